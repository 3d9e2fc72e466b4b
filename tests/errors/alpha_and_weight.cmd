run tests/errors/data/sconv_model.sc --weights tests/errors/data/both_alpha_and_weight.safetensors
