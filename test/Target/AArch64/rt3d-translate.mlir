// rt3d-translate: a constant-filter conv to AArch64 assembly (NEON lane FMAs), LLVM IR, a header (errors: test_aarch64.py).
// RUN: rm -rf %t && rt3d-translate %s --emit=artifacts --name=t -o %t 2>/dev/null
// RUN: filecheck %s --check-prefix=ASM < %t/t-st.s
// RUN: filecheck %s --check-prefix=LLVM < %t/t.ll
// RUN: filecheck %s --check-prefix=HEADER < %t/t.h
// RUN: rt3d-translate %s --emit=asm --cpu=a55 --triple=android --name=t | filecheck %s --check-prefix=ASM

// ASM-DAG:     .globl _mlir_ciface_t_forward
// ASM-DAG:     fmla v{{[0-9]+}}.4s, v{{[0-9]+}}.4s, v{{[0-9]+}}.s[{{[0-3]}}]
// ASM-DAG:     .globl t_set_threads

// LLVM-DAG:    define void @_mlir_ciface_t_forward(
// LLVM-DAG:    define i32 @t_set_threads(i32
// LLVM-DAG:    call void @omp_set_num_threads(
// LLVM-DAG:    call void (ptr, i32, ptr, ...) @__kmpc_fork_call(
// LLVM-DAG:    @t_w0 = external constant [{{[0-9]+}} x float]

// HEADER:      #define T_INPUT0_SHAPE {1, 4, 3, 5, 20}
// HEADER:      #define T_OUTPUT_SHAPE {1, 8, 3, 5, 20}
// HEADER:      void _mlir_ciface_t_forward(t_memref5 *result, t_memref5 *input0, t_memref5 *input1);
// HEADER:      int32_t t_set_threads(int32_t threads);
// HEADER:      static inline void t_run(const float *const inputs[T_NUM_INPUTS], float *output)

func.func @main(%in: tensor<1x4x3x5x20xf32>, %init: tensor<1x8x3x5x20xf32>) -> tensor<1x8x3x5x20xf32> {
  %zero = arith.constant 0.0 : f32
  %padded = tensor.pad %in low[0, 0, 1, 1, 1] high[0, 0, 1, 1, 1] {
  ^bb0(%a: index, %b: index, %c: index, %d: index, %e: index):
    tensor.yield %zero : f32
  } : tensor<1x4x3x5x20xf32> to tensor<1x4x5x7x22xf32>
  %filter = arith.constant dense<0.5> : tensor<8x4x3x3x3xf32>
  %0 = linalg.conv_3d_ncdhw_fcdhw {dilations = dense<1> : vector<3xi64>, strides = dense<1> : vector<3xi64>} ins(%padded, %filter : tensor<1x4x5x7x22xf32>, tensor<8x4x3x3x3xf32>) outs(%init : tensor<1x8x3x5x20xf32>) -> tensor<1x8x3x5x20xf32>
  return %0 : tensor<1x8x3x5x20xf32>
}
