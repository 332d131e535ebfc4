// RUN: rt3d-opt %s --verify-diagnostics --sparse3d-tile > /dev/null
// RUN: not rt3d-opt %s --sparse3d-vectorize 2>&1 | filecheck %s --check-prefix=VECTORIZE

// sparse3d-tile needs a target; sparse3d-vectorize needs the schedule sparse3d-tile records.
// expected-error @+1 {{the module has no sparse3d.target attribute: set a target (e.g. host, host-avx2, aarch64-neon)}}
module {
  func.func @unscheduled(%in: tensor<1x4x1x1x9xf32>, %init: tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32> {
    %values = arith.constant dense<1.0> : tensor<32xf32>
    %offsets = arith.constant dense<[0, 1]> : tensor<2xi64>
    %positions = arith.constant dense<0> : tensor<1xi64>
    // VECTORIZE: sparse3d-tile-errors.mlir:{{[0-9]+}}:10: error: sparse3d.kgs_conv3d has no sparse3d.schedule: run sparse3d-tile first
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x1x1x9xf32>, tensor<32xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32>
    return %0 : tensor<1x8x1x1x9xf32>
  }
}
