// The named pipelines end in upstream dialects only (--kgs-lower) and in LLVM (+ OpenMP) (--kgs-to-llvm).
// RUN: rt3d-opt %s --kgs-lower 2>/dev/null | filecheck %s
// RUN: rt3d-opt %s --kgs-lower 2>/dev/null | not grep -E 'linalg.conv_3d|sparse3d.kgs_conv3d|tensor.pad'
// RUN: rt3d-opt %s --kgs-to-llvm 2>/dev/null | filecheck %s --check-prefix=LLVM

// Without a target the pipelines take the host's (its ISA preset is one of these).
// CHECK:       module attributes {sparse3d.target = {{{.*}}name = "{{host-avx512|host-avx2|aarch64-neon}}"
// CHECK-LABEL: func.func private @kgs_conv3d_block_0
// CHECK:       vector.fma
// CHECK-LABEL: func.func @conv
// LLVM-NOT:    func.func
// LLVM-NOT:    vector.
// LLVM-DAG:    llvm.func @conv
// LLVM-DAG:    llvm.intr.fmuladd
func.func @conv(%in: tensor<1x4x3x5x20xf32>, %init: tensor<1x8x3x5x20xf32>) -> tensor<1x8x3x5x20xf32> {
  %zero = arith.constant 0.0 : f32
  %padded = tensor.pad %in low[0, 0, 1, 1, 1] high[0, 0, 1, 1, 1] {
  ^bb0(%a: index, %b: index, %c: index, %d: index, %e: index):
    tensor.yield %zero : f32
  } : tensor<1x4x3x5x20xf32> to tensor<1x4x5x7x22xf32>
  %filter = arith.constant dense<0.5> : tensor<8x4x3x3x3xf32>
  %0 = linalg.conv_3d_ncdhw_fcdhw {dilations = dense<1> : vector<3xi64>, strides = dense<1> : vector<3xi64>} ins(%padded, %filter : tensor<1x4x5x7x22xf32>, tensor<8x4x3x3x3xf32>) outs(%init : tensor<1x8x3x5x20xf32>) -> tensor<1x8x3x5x20xf32>
  return %0 : tensor<1x8x3x5x20xf32>
}
