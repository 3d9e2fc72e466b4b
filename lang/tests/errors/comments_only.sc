// Only comments here.
/* No model, no block. */
