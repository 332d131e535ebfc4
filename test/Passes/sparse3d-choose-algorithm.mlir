// RUN: rt3d-opt %s --split-input-file --sparse3d-choose-algorithm 2>&1 | filecheck %s
// RUN: rt3d-opt %s --split-input-file --sparse3d-choose-algorithm=allow=direct 2>&1 | filecheck %s --check-prefix=DIRECT

// The choice of rt3d_mlir.targets.algorithm_strategy on the module's target (here host-avx512),
// for representative shapes of C3D and R(2+1)D-18. allow=direct records direct on every conv
// that has no algorithm yet.
// DIRECT-LABEL: func.func @dense_w28
// DIRECT:       algorithm = "direct"
// Dense 3x3x3, 128 -> 256 channels, 28x28 (C3D's conv3a): F(4x4, 3x3) on H x W, 7 x 7 tiles (2.25 multiplications
// per output where direct takes 9 per (kd) plane).
// CHECK-LABEL: func.func @dense_w28
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  algorithm = "winograd<hw, 4>"
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 49152 : i64, name = "host-avx512", vector_lanes = 16 : i64, vector_registers = 32 : i64}} {
  func.func @dense_w28(%in: tensor<1x128x8x28x28xf32>, %init: tensor<1x256x8x28x28xf32>) -> tensor<1x256x8x28x28xf32> {
    %values = arith.constant dense<1.0> : tensor<884736xf32>
    %offsets = arith.constant dense<[0, 27]> : tensor<2xi32>
    %positions = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi32>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 256, 128>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x128x8x28x28xf32>, tensor<884736xf32>, tensor<2xi32>, tensor<27xi32>, tensor<1x256x8x28x28xf32>) -> tensor<1x256x8x28x28xf32>
    return %0 : tensor<1x256x8x28x28xf32>
  }
}

// -----

// 56x56, 64 -> 128 (conv2a): F(4x4, 3x3) on H x W.
// CHECK-LABEL: func.func @dense_w56
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  algorithm = "winograd<hw, 4>"
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 49152 : i64, name = "host-avx512", vector_lanes = 16 : i64, vector_registers = 32 : i64}} {
  func.func @dense_w56(%in: tensor<1x64x16x56x56xf32>, %init: tensor<1x128x16x56x56xf32>) -> tensor<1x128x16x56x56xf32> {
    %values = arith.constant dense<1.0> : tensor<221184xf32>
    %offsets = arith.constant dense<[0, 27]> : tensor<2xi32>
    %positions = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi32>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 128, 64>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x64x16x56x56xf32>, tensor<221184xf32>, tensor<2xi32>, tensor<27xi32>, tensor<1x128x16x56x56xf32>) -> tensor<1x128x16x56x56xf32>
    return %0 : tensor<1x128x16x56x56xf32>
  }
}

// -----

// 14x14, 512 -> 512 (conv4b): F(4x4, 3x3) on H x W even with a tail of 2 rows and columns in 16.
// CHECK-LABEL: func.func @dense_w14
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  algorithm = "winograd<hw, 4>"
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 49152 : i64, name = "host-avx512", vector_lanes = 16 : i64, vector_registers = 32 : i64}} {
  func.func @dense_w14(%in: tensor<1x512x4x14x14xf32>, %init: tensor<1x512x4x14x14xf32>) -> tensor<1x512x4x14x14xf32> {
    %values = arith.constant dense<1.0> : tensor<7077888xf32>
    %offsets = arith.constant dense<[0, 27]> : tensor<2xi32>
    %positions = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi32>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 512, 512>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x512x4x14x14xf32>, tensor<7077888xf32>, tensor<2xi32>, tensor<27xi32>, tensor<1x512x4x14x14xf32>) -> tensor<1x512x4x14x14xf32>
    return %0 : tensor<1x512x4x14x14xf32>
  }
}

// -----

// 7x7, 2 planes (conv5): not F(4x4, 3x3), whose 36 per-tap convs of 2x2 outputs use each of their 28 M
// transformed weights 8 times and wait on memory; F(2, 3) on W streams 9 M weights, each used 56 times.
// CHECK-LABEL: func.func @dense_w7
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  algorithm = "winograd<w, 2>"
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 49152 : i64, name = "host-avx512", vector_lanes = 16 : i64, vector_registers = 32 : i64}} {
  func.func @dense_w7(%in: tensor<1x512x2x7x7xf32>, %init: tensor<1x512x2x7x7xf32>) -> tensor<1x512x2x7x7xf32> {
    %values = arith.constant dense<1.0> : tensor<7077888xf32>
    %offsets = arith.constant dense<[0, 27]> : tensor<2xi32>
    %positions = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi32>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 512, 512>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x512x2x7x7xf32>, tensor<7077888xf32>, tensor<2xi32>, tensor<27xi32>, tensor<1x512x2x7x7xf32>) -> tensor<1x512x2x7x7xf32>
    return %0 : tensor<1x512x2x7x7xf32>
  }
}

// -----

// 3 input channels (conv1a): the transforms cost more than the 3-channel products save.
// CHECK-LABEL: func.func @three_channels
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  algorithm = "direct"
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 49152 : i64, name = "host-avx512", vector_lanes = 16 : i64, vector_registers = 32 : i64}} {
  func.func @three_channels(%in: tensor<1x3x16x112x112xf32>, %init: tensor<1x64x16x112x112xf32>) -> tensor<1x64x16x112x112xf32> {
    %values = arith.constant dense<1.0> : tensor<5184xf32>
    %offsets = arith.constant dense<[0, 27]> : tensor<2xi32>
    %positions = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi32>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 64, 3>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x3x16x112x112xf32>, tensor<5184xf32>, tensor<2xi32>, tensor<27xi32>, tensor<1x64x16x112x112xf32>) -> tensor<1x64x16x112x112xf32>
    return %0 : tensor<1x64x16x112x112xf32>
  }
}

// -----

// A KGS group keeping 4 positions in 4 different kernel rows: no row keeps the 2 taps F(4, 3) needs to pay, so
// Winograd would take nothing.
// CHECK-LABEL: func.func @scattered_positions
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  algorithm = "direct"
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 49152 : i64, name = "host-avx512", vector_lanes = 16 : i64, vector_registers = 32 : i64}} {
  func.func @scattered_positions(%in: tensor<1x128x8x28x28xf32>, %init: tensor<1x256x8x28x28xf32>) -> tensor<1x256x8x28x28xf32> {
    %values = arith.constant dense<1.0> : tensor<131072xf32>
    %offsets = arith.constant dense<[0, 4]> : tensor<2xi32>
    %positions = arith.constant dense<[0, 10, 14, 22]> : tensor<4xi32>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 256, 128>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x128x8x28x28xf32>, tensor<131072xf32>, tensor<2xi32>, tensor<4xi32>, tensor<1x256x8x28x28xf32>) -> tensor<1x256x8x28x28xf32>
    return %0 : tensor<1x256x8x28x28xf32>
  }
}

// -----

// The same group keeping 2 whole rows along W (kgs-row pruning): Winograd saves 2x on them.
// CHECK-LABEL: func.func @whole_rows
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  algorithm = "winograd<w, 4>"
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 49152 : i64, name = "host-avx512", vector_lanes = 16 : i64, vector_registers = 32 : i64}} {
  func.func @whole_rows(%in: tensor<1x128x8x28x28xf32>, %init: tensor<1x256x8x28x28xf32>) -> tensor<1x256x8x28x28xf32> {
    %values = arith.constant dense<1.0> : tensor<196608xf32>
    %offsets = arith.constant dense<[0, 6]> : tensor<2xi32>
    %positions = arith.constant dense<[0, 1, 2, 12, 13, 14]> : tensor<6xi32>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 256, 128>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x128x8x28x28xf32>, tensor<196608xf32>, tensor<2xi32>, tensor<6xi32>, tensor<1x256x8x28x28xf32>) -> tensor<1x256x8x28x28xf32>
    return %0 : tensor<1x256x8x28x28xf32>
  }
}

// -----

// R(2+1)D's spatial 1x3x3 kernel, 64 -> 144 at 56x56: F(4x4, 3x3) on H x W (the D kernel is 1).
// CHECK-LABEL: func.func @kernel_1x3x3
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  algorithm = "winograd<hw, 4>"
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 49152 : i64, name = "host-avx512", vector_lanes = 16 : i64, vector_registers = 32 : i64}} {
  func.func @kernel_1x3x3(%in: tensor<1x64x8x56x56xf32>, %init: tensor<1x144x10x56x56xf32>) -> tensor<1x144x10x56x56xf32> {
    %values = arith.constant dense<1.0> : tensor<82944xf32>
    %offsets = arith.constant dense<[0, 9]> : tensor<2xi32>
    %positions = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8]> : tensor<9xi32>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 144, 64>, kernel_size = array<i64: 1, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x64x8x56x56xf32>, tensor<82944xf32>, tensor<2xi32>, tensor<9xi32>, tensor<1x144x10x56x56xf32>) -> tensor<1x144x10x56x56xf32>
    return %0 : tensor<1x144x10x56x56xf32>
  }
}

// -----

// A 3x1x1 kernel has no row along W or H: direct.
// CHECK-LABEL: func.func @temporal_3x1x1
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  algorithm = "direct"
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 49152 : i64, name = "host-avx512", vector_lanes = 16 : i64, vector_registers = 32 : i64}} {
  func.func @temporal_3x1x1(%in: tensor<1x144x8x56x56xf32>, %init: tensor<1x64x8x58x58xf32>) -> tensor<1x64x8x58x58xf32> {
    %values = arith.constant dense<1.0> : tensor<27648xf32>
    %offsets = arith.constant dense<[0, 3]> : tensor<2xi32>
    %positions = arith.constant dense<[0, 1, 2]> : tensor<3xi32>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 64, 144>, kernel_size = array<i64: 3, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x144x8x56x56xf32>, tensor<27648xf32>, tensor<2xi32>, tensor<3xi32>, tensor<1x64x8x58x58xf32>) -> tensor<1x64x8x58x58xf32>
    return %0 : tensor<1x64x8x58x58xf32>
  }
}

// -----

// Stride 2 along W and H: direct.
// CHECK-LABEL: func.func @strided
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  algorithm = "direct"
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 49152 : i64, name = "host-avx512", vector_lanes = 16 : i64, vector_registers = 32 : i64}} {
  func.func @strided(%in: tensor<1x128x8x28x28xf32>, %init: tensor<1x256x8x14x14xf32>) -> tensor<1x256x8x14x14xf32> {
    %values = arith.constant dense<1.0> : tensor<884736xf32>
    %offsets = arith.constant dense<[0, 27]> : tensor<2xi32>
    %positions = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi32>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 256, 128>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 2, 2>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x128x8x28x28xf32>, tensor<884736xf32>, tensor<2xi32>, tensor<27xi32>, tensor<1x256x8x14x14xf32>) -> tensor<1x256x8x14x14xf32>
    return %0 : tensor<1x256x8x14x14xf32>
  }
}

// -----

// An algorithm already on the op is kept.
// CHECK-LABEL: func.func @keeps_given
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  algorithm = "winograd<w, 2>"
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 49152 : i64, name = "host-avx512", vector_lanes = 16 : i64, vector_registers = 32 : i64}} {
  func.func @keeps_given(%in: tensor<1x128x8x28x28xf32>, %init: tensor<1x256x8x28x28xf32>) -> tensor<1x256x8x28x28xf32> {
    %values = arith.constant dense<1.0> : tensor<884736xf32>
    %offsets = arith.constant dense<[0, 27]> : tensor<2xi32>
    %positions = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi32>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 256, 128>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>, algorithm = "winograd<w, 2>"} : (tensor<1x128x8x28x28xf32>, tensor<884736xf32>, tensor<2xi32>, tensor<27xi32>, tensor<1x256x8x28x28xf32>) -> tensor<1x256x8x28x28xf32>
    return %0 : tensor<1x256x8x28x28xf32>
  }
}
