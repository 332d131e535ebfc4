// RUN: rt3d-opt %s --verify-diagnostics --split-input-file --sparse3d-vectorize > /dev/null

// A schedule sparse3d-vectorize cannot read is an error at the conv.
module {
  func.func @schedule_of_signed_integers(%in: tensor<1x4x1x1x9xf32>, %init: tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32> {
    %values = arith.constant dense<1.0> : tensor<32xf32>
    %offsets = arith.constant dense<[0, 1]> : tensor<2xi64>
    %positions = arith.constant dense<0> : tensor<1xi64>
    // expected-error @+1 {{sparse3d.schedule must be a dictionary attribute, got array<si32: 1, 2>}}
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>, sparse3d.schedule = array<si32: 1, 2>} : (tensor<1x4x1x1x9xf32>, tensor<32xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32>
    return %0 : tensor<1x8x1x1x9xf32>
  }
}

// -----

module {
  func.func @unsigned_kernel_name(%in: tensor<1x4x1x1x9xf32>, %init: tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32> {
    %values = arith.constant dense<1.0> : tensor<32xf32>
    %offsets = arith.constant dense<[0, 1]> : tensor<2xi64>
    %positions = arith.constant dense<0> : tensor<1xi64>
    // expected-error @+1 {{sparse3d.schedule: kernel cannot be array<ui8: 1>}}
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>, sparse3d.schedule = {channel_groups = 1 : i64, filters = 2 : i64, kernel = array<ui8: 1>, rows = 1 : i64, threads = 1 : i64, vector_lanes = 4 : i64, w_vectors = 2 : i64}} : (tensor<1x4x1x1x9xf32>, tensor<32xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32>
    return %0 : tensor<1x8x1x1x9xf32>
  }
}

// -----

module {
  func.func @numeric_kernel_name(%in: tensor<1x4x1x1x9xf32>, %init: tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32> {
    %values = arith.constant dense<1.0> : tensor<32xf32>
    %offsets = arith.constant dense<[0, 1]> : tensor<2xi64>
    %positions = arith.constant dense<0> : tensor<1xi64>
    // expected-error @+1 {{sparse3d.schedule: kernel must be a string, got 3 : i64}}
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>, sparse3d.schedule = {channel_groups = 1 : i64, filters = 2 : i64, kernel = 3 : i64, rows = 1 : i64, threads = 1 : i64, vector_lanes = 4 : i64, w_vectors = 2 : i64}} : (tensor<1x4x1x1x9xf32>, tensor<32xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32>
    return %0 : tensor<1x8x1x1x9xf32>
  }
}

// -----

// A hand-written schedule whose register block is too large to unroll is refused before any code
// is built (rows = 2**32 once never returned).
module {
  func.func @rows_beyond_the_output(%in: tensor<1x4x1x1x9xf32>, %init: tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32> {
    %values = arith.constant dense<1.0> : tensor<32xf32>
    %offsets = arith.constant dense<[0, 1]> : tensor<2xi64>
    %positions = arith.constant dense<0> : tensor<1xi64>
    // expected-error @+1 {{sparse3d.schedule needs 17179869184 accumulators per register block, more than 256}}
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>, sparse3d.schedule = {channel_groups = 1 : i64, filters = 2 : i64, rows = 4294967296 : i64, threads = 1 : i64, vector_lanes = 4 : i64, w_vectors = 2 : i64}} : (tensor<1x4x1x1x9xf32>, tensor<32xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32>
    return %0 : tensor<1x8x1x1x9xf32>
  }
}

// -----

module {
  func.func @filter_vector_block_too_large(%in: tensor<1x4x1x1x9xf32>, %init: tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32> {
    %values = arith.constant dense<1.0> : tensor<32xf32>
    %offsets = arith.constant dense<[0, 1]> : tensor<2xi64>
    %positions = arith.constant dense<0> : tensor<1xi64>
    // expected-error @+1 {{sparse3d.schedule needs 300000 accumulators per register block, more than 256}}
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>, sparse3d.schedule = {channel_chunk = 4 : i64, columns = 100000 : i64, filter_vectors = 3 : i64, kernel = "filter-vectors", rows = 1 : i64, threads = 1 : i64, vector_lanes = 4 : i64}} : (tensor<1x4x1x1x9xf32>, tensor<32xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32>
    return %0 : tensor<1x8x1x1x9xf32>
  }
}
