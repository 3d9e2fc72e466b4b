check tests/errors/no_such_model.sc
