run tests/errors/data/weights_model.sc --weights tests/errors/data/good_weights.safetensors --inputs tests/errors/data/wrong_input_shape.safetensors
