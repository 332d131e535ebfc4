/* JNI glue for an Android app: org.example.rt3d.Model.run(float[] clip, float[] scores, int threads).
 *
 * Built by the NDK with the model's artifacts (see CMakeLists.txt and docs/aarch64.md); RT3D_MODEL_HEADER
 * and RT3D_PREFIX name the model (e.g. "rt3d_c3d.h" and rt3d_c3d), as for ../driver.c.
 */
#include <jni.h>

#include RT3D_MODEL_HEADER

#define CONCAT_(a, b) a##b
#define CONCAT(a, b) CONCAT_(a, b)
#define MODEL(name) CONCAT(RT3D_PREFIX, name)

/* Returns 0, or -1 when an array does not have the model's size (the clip is float32 NCDHW) or cannot be pinned. */
JNIEXPORT jint JNICALL Java_org_example_rt3d_Model_run(JNIEnv *env, jclass cls, jfloatArray clip, jfloatArray scores, jint threads) {
    (void)cls;
    if ((*env)->GetArrayLength(env, clip) != MODEL(_input_sizes)[0] || (*env)->GetArrayLength(env, scores) != MODEL(_output_size))
        return -1;
    jfloat *input = (*env)->GetFloatArrayElements(env, clip, NULL);
    jfloat *output = (*env)->GetFloatArrayElements(env, scores, NULL);
    if (!input || !output) { /* out of memory: the JVM has an OutOfMemoryError pending */
        if (input) (*env)->ReleaseFloatArrayElements(env, clip, input, JNI_ABORT);
        if (output) (*env)->ReleaseFloatArrayElements(env, scores, output, JNI_ABORT);
        return -1;
    }
    const float *inputs[] = {input};
    MODEL(_set_threads)(threads);
    MODEL(_run)(inputs, output);
    (*env)->ReleaseFloatArrayElements(env, clip, input, JNI_ABORT); /* not modified: no copy back */
    (*env)->ReleaseFloatArrayElements(env, scores, output, 0);
    return 0;
}
