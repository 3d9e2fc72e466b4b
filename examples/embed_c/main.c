/* Embedding a model compiled by scc in a C program.
 *
 *   scc build examples/resnet20s.sc --random-weights 1 --emit staticlib -o build/resnet20s
 *   cc -O2 -Ibuild examples/embed_c/main.c build/libresnet20s.a \
 *      -static-libgcc -lpthread -ldl -lm -lrt -lutil -o build/embed
 *   ./build/embed
 *
 * The input is a fixed pattern; the program prints the output size, its argmax and every
 * output value, one per line (the test compares them with the JIT's).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "resnet20s.h"

int main(void) {
    float *input = malloc(sizeof(float) * RESNET20S_INPUT0_SIZE);
    float *output = malloc(sizeof(float) * RESNET20S_OUTPUT0_SIZE);
    if (!input || !output) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (int i = 0; i < RESNET20S_INPUT0_SIZE; i++) {
        input[i] = (float)sin(0.01 * i);
    }
    const float *inputs[RESNET20S_NUM_INPUTS] = {input};
    float *outputs[RESNET20S_NUM_OUTPUTS] = {output};
    if (resnet20s_run(inputs, outputs) != 0) {
        fprintf(stderr, "resnet20s_run failed\n");
        return 1;
    }
    int best = 0;
    for (int i = 1; i < RESNET20S_OUTPUT0_SIZE; i++) {
        if (output[i] > output[best]) best = i;
    }
    printf("%s: %d values, argmax %d\n", RESNET20S_OUTPUT0_NAME, RESNET20S_OUTPUT0_SIZE, best);
    for (int i = 0; i < RESNET20S_OUTPUT0_SIZE; i++) {
        printf("%.9g\n", output[i]);
    }
    free(input);
    free(output);
    return 0;
}
