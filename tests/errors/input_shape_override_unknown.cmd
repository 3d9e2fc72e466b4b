check tests/errors/data/weights_model.sc --input-shape y=1,3,8,8
