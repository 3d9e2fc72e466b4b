run tests/errors/data/weights_model.sc --weights tests/errors/data/no_such_file.safetensors
