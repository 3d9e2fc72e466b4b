check tests/errors/data/weights_model.sc --input-shape x=1,3,8
