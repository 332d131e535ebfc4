// RUN: rt3d-opt %s --split-input-file --verify-diagnostics

func.func @group_shape_length(%in: tensor<1x4x8x8x8xf32>, %init: tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32> {
  %v = arith.constant dense<1.0> : tensor<432xf32>
  %o = arith.constant dense<[0, 27]> : tensor<2xi64>
  %p = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi64>
  // expected-error @+1 {{attribute 'group_shape' must have 2 entries, got 3}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4, 1>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x8x8x8xf32>, tensor<432xf32>, tensor<2xi64>, tensor<27xi64>, tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32>
  return %0 : tensor<1x4x8x8x8xf32>
}

// -----

func.func @zero_stride(%in: tensor<1x4x8x8x8xf32>, %init: tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32> {
  %v = arith.constant dense<1.0> : tensor<432xf32>
  %o = arith.constant dense<[0, 27]> : tensor<2xi64>
  %p = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi64>
  // expected-error @+1 {{attribute 'strides' entries must be >= 1, got [1, 0, 1]}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 0, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x8x8x8xf32>, tensor<432xf32>, tensor<2xi64>, tensor<27xi64>, tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32>
  return %0 : tensor<1x4x8x8x8xf32>
}

// -----

func.func @negative_padding(%in: tensor<1x4x8x8x8xf32>, %init: tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32> {
  %v = arith.constant dense<1.0> : tensor<432xf32>
  %o = arith.constant dense<[0, 27]> : tensor<2xi64>
  %p = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi64>
  // expected-error @+1 {{attribute 'padding' entries must be >= 0}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, -1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x8x8x8xf32>, tensor<432xf32>, tensor<2xi64>, tensor<27xi64>, tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32>
  return %0 : tensor<1x4x8x8x8xf32>
}

// -----

func.func @i32_array(%in: tensor<1x4x8x8x8xf32>, %init: tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32> {
  %v = arith.constant dense<1.0> : tensor<432xf32>
  %o = arith.constant dense<[0, 27]> : tensor<2xi64>
  %p = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi64>
  // expected-error @+1 {{attribute 'kernel_size' must be array<i64: ...>, got array<i32: 3, 3, 3>}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i32: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x8x8x8xf32>, tensor<432xf32>, tensor<2xi64>, tensor<27xi64>, tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32>
  return %0 : tensor<1x4x8x8x8xf32>
}

// -----

func.func @rank4_input(%in: tensor<4x8x8x8xf32>, %init: tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32> {
  %v = arith.constant dense<1.0> : tensor<432xf32>
  %o = arith.constant dense<[0, 27]> : tensor<2xi64>
  %p = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi64>
  // expected-error @+1 {{'input' must be a static rank-5 (N, C, D, H, W) tensor, got tensor<4x8x8x8xf32>}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<4x8x8x8xf32>, tensor<432xf32>, tensor<2xi64>, tensor<27xi64>, tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32>
  return %0 : tensor<1x4x8x8x8xf32>
}

// -----

func.func @dynamic_init(%in: tensor<1x4x8x8x8xf32>, %init: tensor<1x4x?x8x8xf32>) -> tensor<1x4x?x8x8xf32> {
  %v = arith.constant dense<1.0> : tensor<432xf32>
  %o = arith.constant dense<[0, 27]> : tensor<2xi64>
  %p = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi64>
  // expected-error @+1 {{'init' must be a static rank-5}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x8x8x8xf32>, tensor<432xf32>, tensor<2xi64>, tensor<27xi64>, tensor<1x4x?x8x8xf32>) -> tensor<1x4x?x8x8xf32>
  return %0 : tensor<1x4x?x8x8xf32>
}

// -----

func.func @result_type(%in: tensor<1x4x8x8x8xf32>, %init: tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf16> {
  %v = arith.constant dense<1.0> : tensor<432xf32>
  %o = arith.constant dense<[0, 27]> : tensor<2xi64>
  %p = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi64>
  // expected-error @+1 {{result type tensor<1x4x8x8x8xf16> must equal the init type tensor<1x4x8x8x8xf32>}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x8x8x8xf32>, tensor<432xf32>, tensor<2xi64>, tensor<27xi64>, tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf16>
  return %0 : tensor<1x4x8x8x8xf16>
}

// -----

func.func @element_types(%in: tensor<1x4x8x8x8xf16>, %init: tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32> {
  %v = arith.constant dense<1.0> : tensor<432xf32>
  %o = arith.constant dense<[0, 27]> : tensor<2xi64>
  %p = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi64>
  // expected-error @+1 {{'input' and 'init' must have the same float element type}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x8x8x8xf16>, tensor<432xf32>, tensor<2xi64>, tensor<27xi64>, tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32>
  return %0 : tensor<1x4x8x8x8xf32>
}

// -----

func.func @batch(%in: tensor<1x4x8x8x8xf32>, %init: tensor<2x4x8x8x8xf32>) -> tensor<2x4x8x8x8xf32> {
  %v = arith.constant dense<1.0> : tensor<432xf32>
  %o = arith.constant dense<[0, 27]> : tensor<2xi64>
  %p = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi64>
  // expected-error @+1 {{'init' batch 2 must equal the input batch 1}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x8x8x8xf32>, tensor<432xf32>, tensor<2xi64>, tensor<27xi64>, tensor<2x4x8x8x8xf32>) -> tensor<2x4x8x8x8xf32>
  return %0 : tensor<2x4x8x8x8xf32>
}

// -----

func.func @output_size(%in: tensor<1x4x8x8x8xf32>, %init: tensor<1x4x8x8x6xf32>) -> tensor<1x4x8x8x6xf32> {
  %v = arith.constant dense<1.0> : tensor<432xf32>
  %o = arith.constant dense<[0, 27]> : tensor<2xi64>
  %p = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi64>
  // expected-error @+1 {{output spatial size must be [8, 8, 8] for this input, kernel, stride, padding and dilation, got [8, 8, 6]}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x8x8x8xf32>, tensor<432xf32>, tensor<2xi64>, tensor<27xi64>, tensor<1x4x8x8x6xf32>) -> tensor<1x4x8x8x6xf32>
  return %0 : tensor<1x4x8x8x6xf32>
}

// -----

func.func @values_rank(%in: tensor<1x4x8x8x8xf32>, %init: tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32> {
  %v = arith.constant dense<1.0> : tensor<27x16xf32>
  %o = arith.constant dense<[0, 27]> : tensor<2xi64>
  %p = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi64>
  // expected-error @+1 {{'values' must be a static 1-D tensor, got tensor<27x16xf32>}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x8x8x8xf32>, tensor<27x16xf32>, tensor<2xi64>, tensor<27xi64>, tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32>
  return %0 : tensor<1x4x8x8x8xf32>
}

// -----

func.func @values_type(%in: tensor<1x4x8x8x8xf32>, %init: tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32> {
  %v = arith.constant dense<1.0> : tensor<432xf16>
  %o = arith.constant dense<[0, 27]> : tensor<2xi64>
  %p = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi64>
  // expected-error @+1 {{'values' element type must be f32 like the input, got f16}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x8x8x8xf32>, tensor<432xf16>, tensor<2xi64>, tensor<27xi64>, tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32>
  return %0 : tensor<1x4x8x8x8xf32>
}

// -----

func.func @float_offsets(%in: tensor<1x4x8x8x8xf32>, %init: tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32> {
  %v = arith.constant dense<1.0> : tensor<432xf32>
  %o = arith.constant dense<[0.0, 27.0]> : tensor<2xf32>
  %p = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi64>
  // expected-error @+1 {{'group_offsets' must hold signless integers, got tensor<2xf32>}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x8x8x8xf32>, tensor<432xf32>, tensor<2xf32>, tensor<27xi64>, tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32>
  return %0 : tensor<1x4x8x8x8xf32>
}

// -----

func.func @offsets_count(%in: tensor<1x4x8x8x8xf32>, %init: tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32> {
  %v = arith.constant dense<1.0> : tensor<432xf32>
  %o = arith.constant dense<[0, 27, 27, 27, 27, 27, 27]> : tensor<7xi64>
  %p = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi64>
  // expected-error @+1 {{group_offsets must have G+1 = 2 entries for 4 filters x 4 channels in 8x4 groups, got 7}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x8x8x8xf32>, tensor<432xf32>, tensor<7xi64>, tensor<27xi64>, tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32>
  return %0 : tensor<1x4x8x8x8xf32>
}

// -----

func.func @offsets_start(%in: tensor<1x4x8x8x8xf32>, %init: tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32> {
  %v = arith.constant dense<1.0> : tensor<432xf32>
  %o = arith.constant dense<[1, 27]> : tensor<2xi64>
  %p = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi64>
  // expected-error @+1 {{group_offsets must start at 0, never decrease and end at P = 27 (the positions size), got 1 ... 27}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x8x8x8xf32>, tensor<432xf32>, tensor<2xi64>, tensor<27xi64>, tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32>
  return %0 : tensor<1x4x8x8x8xf32>
}

// -----

func.func @offsets_end(%in: tensor<1x4x8x8x8xf32>, %init: tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32> {
  %v = arith.constant dense<1.0> : tensor<432xf32>
  %o = arith.constant dense<[0, 26]> : tensor<2xi64>
  %p = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi64>
  // expected-error @+1 {{group_offsets must start at 0, never decrease and end at P = 27}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x8x8x8xf32>, tensor<432xf32>, tensor<2xi64>, tensor<27xi64>, tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32>
  return %0 : tensor<1x4x8x8x8xf32>
}

// -----

func.func @values_count(%in: tensor<1x4x8x8x8xf32>, %init: tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32> {
  %v = arith.constant dense<1.0> : tensor<431xf32>
  %o = arith.constant dense<[0, 27]> : tensor<2xi64>
  %p = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi64>
  // expected-error @+1 {{'values' must have 432 entries (kept positions x kernels per group, summed), got 431}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x8x8x8xf32>, tensor<431xf32>, tensor<2xi64>, tensor<27xi64>, tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32>
  return %0 : tensor<1x4x8x8x8xf32>
}

// -----

func.func @position_range(%in: tensor<1x4x8x8x8xf32>, %init: tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32> {
  %v = arith.constant dense<1.0> : tensor<432xf32>
  %o = arith.constant dense<[0, 27]> : tensor<2xi64>
  %p = arith.constant dense<[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27]> : tensor<27xi64>
  // expected-error @+1 {{positions must lie in [0, 27) for kernel [3, 3, 3], got 1 ... 27}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x8x8x8xf32>, tensor<432xf32>, tensor<2xi64>, tensor<27xi64>, tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32>
  return %0 : tensor<1x4x8x8x8xf32>
}

// -----

func.func @position_order(%in: tensor<1x4x8x8x8xf32>, %init: tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32> {
  %v = arith.constant dense<1.0> : tensor<432xf32>
  %o = arith.constant dense<[0, 27]> : tensor<2xi64>
  %p = arith.constant dense<[0, 1, 2, 3, 4, 5, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi64>
  // expected-error @+1 {{positions of group 0 must be strictly ascending, got 5 then 5}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x8x8x8xf32>, tensor<432xf32>, tensor<2xi64>, tensor<27xi64>, tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32>
  return %0 : tensor<1x4x8x8x8xf32>
}

// -----

func.func @missing_attribute(%in: tensor<1x4x8x8x8xf32>, %v: tensor<432xf32>, %o: tensor<2xi64>, %p: tensor<27xi64>, %init: tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32> {
  // expected-error @+1 {{requires attribute 'dilations'}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>} : (tensor<1x4x8x8x8xf32>, tensor<432xf32>, tensor<2xi64>, tensor<27xi64>, tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32>
  return %0 : tensor<1x4x8x8x8xf32>
}

// -----

func.func @missing_operand(%in: tensor<1x4x8x8x8xf32>, %v: tensor<432xf32>, %o: tensor<2xi64>, %init: tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32> {
  // expected-error @+1 {{expects 5 operands (input, values, group_offsets, positions, init), got 4}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x8x8x8xf32>, tensor<432xf32>, tensor<2xi64>, tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32>
  return %0 : tensor<1x4x8x8x8xf32>
}

// -----

func.func @permutation_repeats_a_filter(%in: tensor<1x2x3x4x5xf32>, %init: tensor<1x4x3x4x5xf32>) -> tensor<1x4x3x4x5xf32> {
  %v = arith.constant dense<1.0> : tensor<8xf32>
  %o = arith.constant dense<[0, 1]> : tensor<2xi8>
  %p = arith.constant dense<[0]> : tensor<1xi8>
  // expected-error @+1 {{attribute 'filter_permutation' must be a permutation of 0..3 (the filters), got [3, 1, 1, 0]}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>, filter_permutation = array<i64: 3, 1, 1, 0>} : (tensor<1x2x3x4x5xf32>, tensor<8xf32>, tensor<2xi8>, tensor<1xi8>, tensor<1x4x3x4x5xf32>) -> tensor<1x4x3x4x5xf32>
  return %0 : tensor<1x4x3x4x5xf32>
}

// -----

func.func @permutation_too_short(%in: tensor<1x2x3x4x5xf32>, %init: tensor<1x4x3x4x5xf32>) -> tensor<1x4x3x4x5xf32> {
  %v = arith.constant dense<1.0> : tensor<8xf32>
  %o = arith.constant dense<[0, 1]> : tensor<2xi8>
  %p = arith.constant dense<[0]> : tensor<1xi8>
  // expected-error @+1 {{attribute 'filter_permutation' must be a permutation of 0..3 (the filters), got [0, 1, 2]}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>, filter_permutation = array<i64: 0, 1, 2>} : (tensor<1x2x3x4x5xf32>, tensor<8xf32>, tensor<2xi8>, tensor<1xi8>, tensor<1x4x3x4x5xf32>) -> tensor<1x4x3x4x5xf32>
  return %0 : tensor<1x4x3x4x5xf32>
}

// -----

func.func @permutation_not_an_array(%in: tensor<1x2x3x4x5xf32>, %init: tensor<1x4x3x4x5xf32>) -> tensor<1x4x3x4x5xf32> {
  %v = arith.constant dense<1.0> : tensor<8xf32>
  %o = arith.constant dense<[0, 1]> : tensor<2xi8>
  %p = arith.constant dense<[0]> : tensor<1xi8>
  // expected-error @+1 {{attribute 'filter_permutation' must be array<i64: ...>, got [0, 1, 2, 3]}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>, filter_permutation = [0, 1, 2, 3]} : (tensor<1x2x3x4x5xf32>, tensor<8xf32>, tensor<2xi8>, tensor<1xi8>, tensor<1x4x3x4x5xf32>) -> tensor<1x4x3x4x5xf32>
  return %0 : tensor<1x4x3x4x5xf32>
}

// -----

func.func @unknown_activation(%in: tensor<1x2x3x4x5xf32>, %init: tensor<1x4x3x4x5xf32>) -> tensor<1x4x3x4x5xf32> {
  %v = arith.constant dense<1.0> : tensor<8xf32>
  %o = arith.constant dense<[0, 1]> : tensor<2xi8>
  %p = arith.constant dense<[0]> : tensor<1xi8>
  // expected-error @+1 {{attribute 'activation' must be one of 'relu', got "gelu"}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>, activation = "gelu"} : (tensor<1x2x3x4x5xf32>, tensor<8xf32>, tensor<2xi8>, tensor<1xi8>, tensor<1x4x3x4x5xf32>) -> tensor<1x4x3x4x5xf32>
  return %0 : tensor<1x4x3x4x5xf32>
}

// -----

// Dense arrays of signed or unsigned integers have no Python class: a wrong value, not an internal error.
func.func @signed_array(%in: tensor<1x4x8x8x8xf32>, %init: tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32> {
  %v = arith.constant dense<1.0> : tensor<432xf32>
  %o = arith.constant dense<[0, 27]> : tensor<2xi64>
  %p = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi64>
  // expected-error @+1 {{attribute 'group_shape' must be array<i64: ...>, got array<si32: 8, 4>}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<si32: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x8x8x8xf32>, tensor<432xf32>, tensor<2xi64>, tensor<27xi64>, tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32>
  return %0 : tensor<1x4x8x8x8xf32>
}

// -----

func.func @unsigned_permutation(%in: tensor<1x2x3x4x5xf32>, %init: tensor<1x4x3x4x5xf32>) -> tensor<1x4x3x4x5xf32> {
  %v = arith.constant dense<1.0> : tensor<8xf32>
  %o = arith.constant dense<[0, 1]> : tensor<2xi8>
  %p = arith.constant dense<[0]> : tensor<1xi8>
  // expected-error @+1 {{attribute 'filter_permutation' must be array<i64: ...>, got array<ui8: 0, 1, 2, 3>}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>, filter_permutation = array<ui8: 0, 1, 2, 3>} : (tensor<1x2x3x4x5xf32>, tensor<8xf32>, tensor<2xi8>, tensor<1xi8>, tensor<1x4x3x4x5xf32>) -> tensor<1x4x3x4x5xf32>
  return %0 : tensor<1x4x3x4x5xf32>
}

// -----

// A location is an attribute too, but the bindings cannot hand one over as a value.
func.func @location_activation(%in: tensor<1x2x3x4x5xf32>, %init: tensor<1x4x3x4x5xf32>) -> tensor<1x4x3x4x5xf32> {
  %v = arith.constant dense<1.0> : tensor<8xf32>
  %o = arith.constant dense<[0, 1]> : tensor<2xi8>
  %p = arith.constant dense<[0]> : tensor<1xi8>
  // expected-error @+1 {{attribute 'activation' must be one of 'relu', got an attribute the Python bindings cannot represent}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>, activation = loc(unknown)} : (tensor<1x2x3x4x5xf32>, tensor<8xf32>, tensor<2xi8>, tensor<1xi8>, tensor<1x4x3x4x5xf32>) -> tensor<1x4x3x4x5xf32>
  return %0 : tensor<1x4x3x4x5xf32>
}

// -----

// MLIR's parser does not check a dense_resource blob against its type: the table analysis reads the tables, so it does.
func.func @short_offsets_blob(%in: tensor<1x2x3x4x5xf32>, %init: tensor<1x4x3x4x5xf32>) -> tensor<1x4x3x4x5xf32> {
  %v = arith.constant dense<1.0> : tensor<8xf32>
  %o = arith.constant dense_resource<offsets> : tensor<2xi8>
  %p = arith.constant dense<[0]> : tensor<1xi8>
  // expected-error @+1 {{'group_offsets': the dense_resource blob holds 3 bytes of data, tensor<2xi8> needs 2}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>} : (tensor<1x2x3x4x5xf32>, tensor<8xf32>, tensor<2xi8>, tensor<1xi8>, tensor<1x4x3x4x5xf32>) -> tensor<1x4x3x4x5xf32>
  return %0 : tensor<1x4x3x4x5xf32>
}
{-#
  dialect_resources: {
    builtin: {
      offsets: "0x01000000000101"
    }
  }
#-}

// -----

// An algorithm that does not fit the op names the axis and what is wrong.
func.func @winograd_kernel_not_3(%in: tensor<1x4x5x5x5xf32>, %init: tensor<1x8x5x5x7xf32>) -> tensor<1x8x5x5x7xf32> {
  %v = arith.constant dense<1.0> : tensor<32xf32>
  %o = arith.constant dense<[0, 1]> : tensor<2xi8>
  %p = arith.constant dense<[0]> : tensor<1xi8>
  // expected-error @+1 {{winograd<w, 4> needs kernel size 3 along w, got 1}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>, algorithm = "winograd<w, 4>"} : (tensor<1x4x5x5x5xf32>, tensor<32xf32>, tensor<2xi8>, tensor<1xi8>, tensor<1x8x5x5x7xf32>) -> tensor<1x8x5x5x7xf32>
  return %0 : tensor<1x8x5x5x7xf32>
}

// -----

func.func @winograd_stride_2(%in: tensor<1x4x5x5x5xf32>, %init: tensor<1x8x5x3x5xf32>) -> tensor<1x8x5x3x5xf32> {
  %v = arith.constant dense<1.0> : tensor<32xf32>
  %o = arith.constant dense<[0, 1]> : tensor<2xi8>
  %p = arith.constant dense<[0]> : tensor<1xi8>
  // expected-error @+1 {{winograd<hw, 2> needs stride 1 along h, got 2}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 2, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>, algorithm = "winograd<hw, 2>"} : (tensor<1x4x5x5x5xf32>, tensor<32xf32>, tensor<2xi8>, tensor<1xi8>, tensor<1x8x5x3x5xf32>) -> tensor<1x8x5x3x5xf32>
  return %0 : tensor<1x8x5x3x5xf32>
}

// -----

func.func @winograd_dilation_2(%in: tensor<1x4x5x5x5xf32>, %init: tensor<1x8x5x5x3xf32>) -> tensor<1x8x5x5x3xf32> {
  %v = arith.constant dense<1.0> : tensor<32xf32>
  %o = arith.constant dense<[0, 1]> : tensor<2xi8>
  %p = arith.constant dense<[0]> : tensor<1xi8>
  // expected-error @+1 {{winograd<w, 2> needs dilation 1 along w, got 2}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 2>, algorithm = "winograd<w, 2>"} : (tensor<1x4x5x5x5xf32>, tensor<32xf32>, tensor<2xi8>, tensor<1xi8>, tensor<1x8x5x5x3xf32>) -> tensor<1x8x5x5x3xf32>
  return %0 : tensor<1x8x5x5x3xf32>
}

// -----

func.func @winograd_tile_3(%in: tensor<1x4x5x5x5xf32>, %init: tensor<1x8x5x5x5xf32>) -> tensor<1x8x5x5x5xf32> {
  %v = arith.constant dense<1.0> : tensor<32xf32>
  %o = arith.constant dense<[0, 1]> : tensor<2xi8>
  %p = arith.constant dense<[0]> : tensor<1xi8>
  // expected-error @+1 {{attribute 'algorithm': winograd tile must be one of 2, 4, 6, got 3}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>, algorithm = "winograd<w, 3>"} : (tensor<1x4x5x5x5xf32>, tensor<32xf32>, tensor<2xi8>, tensor<1xi8>, tensor<1x8x5x5x5xf32>) -> tensor<1x8x5x5x5xf32>
  return %0 : tensor<1x8x5x5x5xf32>
}

// -----

func.func @winograd_axis_x(%in: tensor<1x4x5x5x5xf32>, %init: tensor<1x8x5x5x5xf32>) -> tensor<1x8x5x5x5xf32> {
  %v = arith.constant dense<1.0> : tensor<32xf32>
  %o = arith.constant dense<[0, 1]> : tensor<2xi8>
  %p = arith.constant dense<[0]> : tensor<1xi8>
  // expected-error @+1 {{attribute 'algorithm': winograd axes must be distinct letters of d, h, w, got 'wx'}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>, algorithm = "winograd<wx, 2>"} : (tensor<1x4x5x5x5xf32>, tensor<32xf32>, tensor<2xi8>, tensor<1xi8>, tensor<1x8x5x5x5xf32>) -> tensor<1x8x5x5x5xf32>
  return %0 : tensor<1x8x5x5x5xf32>
}

// -----

func.func @algorithm_syntax(%in: tensor<1x4x5x5x5xf32>, %init: tensor<1x8x5x5x5xf32>) -> tensor<1x8x5x5x5xf32> {
  %v = arith.constant dense<1.0> : tensor<32xf32>
  %o = arith.constant dense<[0, 1]> : tensor<2xi8>
  %p = arith.constant dense<[0]> : tensor<1xi8>
  // expected-error @+1 {{attribute 'algorithm': expected 'direct' or 'winograd<AXES, M>' (e.g. 'winograd<w, 4>'), got 'fft'}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>, algorithm = "fft"} : (tensor<1x4x5x5x5xf32>, tensor<32xf32>, tensor<2xi8>, tensor<1xi8>, tensor<1x8x5x5x5xf32>) -> tensor<1x8x5x5x5xf32>
  return %0 : tensor<1x8x5x5x5xf32>
}

// -----

func.func @algorithm_not_string(%in: tensor<1x4x5x5x5xf32>, %init: tensor<1x8x5x5x5xf32>) -> tensor<1x8x5x5x5xf32> {
  %v = arith.constant dense<1.0> : tensor<32xf32>
  %o = arith.constant dense<[0, 1]> : tensor<2xi8>
  %p = arith.constant dense<[0]> : tensor<1xi8>
  // expected-error @+1 {{attribute 'algorithm' must be a string ('direct' or 'winograd<AXES, M>'), got 4 : i64}}
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>, algorithm = 4} : (tensor<1x4x5x5x5xf32>, tensor<32xf32>, tensor<2xi8>, tensor<1xi8>, tensor<1x8x5x5x5xf32>) -> tensor<1x8x5x5x5xf32>
  return %0 : tensor<1x8x5x5x5xf32>
}
