run tests/errors/data/sconv_model.sc --weights tests/errors/data/unstructured.safetensors
