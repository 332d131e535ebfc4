// The verifier is local: @conv verifies, its tables are arguments. Once sccp makes them the
// caller's constants, the passes that read the tables run the table analysis and name the problem.
// RUN: rt3d-opt %s --verify-diagnostics --sccp --sparse3d-compact
// RUN: rt3d-opt %s --verify-diagnostics --sccp --sparse3d-tile=target=aarch64-neon
// RUN: rt3d-opt %s --verify-diagnostics --sparse3d-tile=target=aarch64-neon --sccp --sparse3d-vectorize
// RUN: rt3d-opt %s --verify-diagnostics --sparse3d-gpu-tile=target=mali-valhall --sccp --sparse3d-to-gpu
// RUN: rt3d-opt %s --sccp | filecheck %s

// A pass that does not read the tables takes the op with its now constant (and wrong) tables: it verifies.
// CHECK-LABEL: func.func private @conv
// CHECK:       %[[OFFSETS:.*]] = arith.constant dense<[0, 2]> : tensor<2xi64>
// CHECK:       "sparse3d.kgs_conv3d"(%arg0, %{{.*}}, %[[OFFSETS]], %{{.*}}, %arg4)

func.func private @conv(%in: tensor<1x4x1x1x9xf32>, %values: tensor<32xf32>, %offsets: tensor<2xi64>, %positions: tensor<1xi64>, %init: tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32> {
  // expected-error @+1 {{'sparse3d.kgs_conv3d' op group_offsets must start at 0, never decrease and end at P = 1 (the positions size), got 0 ... 2}}
  %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x1x1x9xf32>, tensor<32xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32>
  return %0 : tensor<1x8x1x1x9xf32>
}

func.func @caller(%in: tensor<1x4x1x1x9xf32>, %init: tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32> {
  %values = arith.constant dense<1.0> : tensor<32xf32>
  %offsets = arith.constant dense<[0, 2]> : tensor<2xi64>
  %positions = arith.constant dense<0> : tensor<1xi64>
  %0 = func.call @conv(%in, %values, %offsets, %positions, %init) : (tensor<1x4x1x1x9xf32>, tensor<32xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32>
  return %0 : tensor<1x8x1x1x9xf32>
}
