/* A C driver for a model compiled by `rt3d compile MODEL --target aarch64 -o DIR`.
 *
 * Build (PREFIX is the name the header and objects carry, e.g. rt3d_c3d):
 *   aarch64-linux-gnu-gcc -O2 -IDIR -DRT3D_MODEL_HEADER='"PREFIX.h"' -DRT3D_PREFIX=PREFIX \
 *       driver.c DIR/PREFIX-linux-gnu-st.o -lm -o driver              (single-threaded)
 *   ... DIR/PREFIX-linux-gnu.o -lomp ...                              (OpenMP)
 * Run:
 *   driver [-t THREADS] [-r REPEAT] OUTPUT.bin INPUT0.bin [INPUT1.bin ...]
 * Each INPUTi.bin holds the raw float32 tensor (PREFIX_INPUT<i>_SIZE floats, NCDHW);
 * OUTPUT.bin receives PREFIX_OUTPUT_SIZE floats. With -r it prints the time per run.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include RT3D_MODEL_HEADER

#define CONCAT_(a, b) a##b
#define CONCAT(a, b) CONCAT_(a, b)
#define MODEL(name) CONCAT(RT3D_PREFIX, name)

static float *read_floats(const char *path, long count) {
    FILE *file = fopen(path, "rb");
    float *data = malloc(sizeof(float) * (size_t)count);
    if (!file || !data || fread(data, sizeof(float), (size_t)count, file) != (size_t)count) {
        fprintf(stderr, "error: cannot read %ld floats from %s\n", count, path);
        exit(1);
    }
    if (fgetc(file) != EOF) { /* a longer file is a tensor of another shape, not one to truncate */
        fprintf(stderr, "error: %s holds more than %ld floats\n", path, count);
        exit(1);
    }
    fclose(file);
    return data;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    int threads = 1, repeat = 0, option;
    while ((option = getopt(argc, argv, "t:r:")) != -1) {
        if (option == 't') threads = atoi(optarg);
        else if (option == 'r') repeat = atoi(optarg);
        else return 2;
    }
    int num_inputs = (int)(sizeof(MODEL(_input_sizes)) / sizeof(MODEL(_input_sizes)[0]));
    if (argc - optind != 1 + num_inputs || threads < 1) {
        fprintf(stderr, "usage: %s [-t THREADS] [-r REPEAT] OUTPUT.bin INPUT0.bin ... (%d input(s))\n", argv[0], num_inputs);
        return 2;
    }
    const float *inputs[sizeof(MODEL(_input_sizes)) / sizeof(MODEL(_input_sizes)[0])];
    for (int i = 0; i < num_inputs; ++i) inputs[i] = read_floats(argv[optind + 1 + i], (long)MODEL(_input_sizes)[i]);
    long output_size = (long)MODEL(_output_size);
    float *output = malloc(sizeof(float) * (size_t)output_size);

    MODEL(_set_threads)(threads);
    MODEL(_run)(inputs, output);
    if (repeat > 0) {
        double start = now_ms();
        for (int r = 0; r < repeat; ++r) MODEL(_run)(inputs, output);
        printf("%.3f ms per run (%d runs, %d thread(s))\n", (now_ms() - start) / repeat, repeat, threads);
    }
    FILE *file = fopen(argv[optind], "wb");
    if (!file || fwrite(output, sizeof(float), (size_t)output_size, file) != (size_t)output_size || fclose(file) != 0) {
        fprintf(stderr, "error: cannot write %s\n", argv[optind]);
        return 1;
    }
    return 0;
}
