run tests/errors/data/weights_model.sc --weights tests/errors/data/corrupt.safetensors
