run tests/errors/data/weights_model.sc --weights tests/errors/data/bad_weights.safetensors
