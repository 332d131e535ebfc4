// RUN: rt3d-opt %s --verify-diagnostics --split-input-file --sparse3d-to-gpu > /dev/null

// sparse3d-to-gpu needs the schedule sparse3d-gpu-tile records.
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @unscheduled(%in: tensor<1x4x1x1x9xf32>, %init: tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32> {
    %values = arith.constant dense<1.0> : tensor<32xf32>
    %offsets = arith.constant dense<[0, 1]> : tensor<2xi64>
    %positions = arith.constant dense<0> : tensor<1xi64>
    // expected-error @+1 {{sparse3d.kgs_conv3d has no sparse3d.gpu_schedule: run sparse3d-gpu-tile first}}
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x1x1x9xf32>, tensor<32xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32>
    return %0 : tensor<1x8x1x1x9xf32>
  }
}

// -----

// The weight bases are derived from the index tables, so they must be constants.
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @tables_from_arguments(%in: tensor<1x4x1x1x9xf32>, %init: tensor<1x8x1x1x9xf32>, %offsets: tensor<2xi64>) -> tensor<1x8x1x1x9xf32> {
    %values = arith.constant dense<1.0> : tensor<32xf32>
    %positions = arith.constant dense<0> : tensor<1xi64>
    // expected-error @+1 {{the GPU lowering needs constant group_offsets and positions (it derives the weight bases from them)}}
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>, sparse3d.gpu_schedule = {outputs_per_thread = 1 : i64, workgroup_size = 32 : i64}} : (tensor<1x4x1x1x9xf32>, tensor<32xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32>
    return %0 : tensor<1x8x1x1x9xf32>
  }
}

// -----

// Attributes from the CPU-side passes are not applied by the GPU kernel yet: an error, not a wrong result.
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @fused_relu(%in: tensor<1x4x1x1x9xf32>, %init: tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32> {
    %values = arith.constant dense<1.0> : tensor<32xf32>
    %offsets = arith.constant dense<[0, 1]> : tensor<2xi64>
    %positions = arith.constant dense<0> : tensor<1xi64>
    // expected-error @+1 {{the GPU lowering does not handle sparse3d.kgs_conv3d's 'activation' yet}}
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {activation = "relu", group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>, sparse3d.gpu_schedule = {outputs_per_thread = 1 : i64, workgroup_size = 32 : i64}} : (tensor<1x4x1x1x9xf32>, tensor<32xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32>
    return %0 : tensor<1x8x1x1x9xf32>
  }
}

// -----

// A schedule of the wrong kind is an error at the conv, like a missing one.
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @schedule_not_a_dictionary(%in: tensor<1x4x1x1x9xf32>, %init: tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32> {
    %values = arith.constant dense<1.0> : tensor<32xf32>
    %offsets = arith.constant dense<[0, 1]> : tensor<2xi64>
    %positions = arith.constant dense<0> : tensor<1xi64>
    // expected-error @+1 {{sparse3d.gpu_schedule must be a dictionary attribute, got 5 : i64}}
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>, sparse3d.gpu_schedule = 5 : i64} : (tensor<1x4x1x1x9xf32>, tensor<32xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32>
    return %0 : tensor<1x8x1x1x9xf32>
  }
}

// -----

module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @unsigned_schedule_field(%in: tensor<1x4x1x1x9xf32>, %init: tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32> {
    %values = arith.constant dense<1.0> : tensor<32xf32>
    %offsets = arith.constant dense<[0, 1]> : tensor<2xi64>
    %positions = arith.constant dense<0> : tensor<1xi64>
    // expected-error @+1 {{sparse3d.gpu_schedule: outputs_per_thread cannot be array<ui8: 1>}}
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>, sparse3d.gpu_schedule = {outputs_per_thread = array<ui8: 1>, workgroup_size = 32 : i64}} : (tensor<1x4x1x1x9xf32>, tensor<32xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32>
    return %0 : tensor<1x8x1x1x9xf32>
  }
}

// -----

// A schedule already on the conv is checked against the target and the conv, as sparse3d-gpu-tile checks
// one: 2**32 outputs per thread would have the kernel emitter run for ever.
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @huge_schedule(%in: tensor<1x4x1x1x9xf32>, %init: tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32> {
    %values = arith.constant dense<1.0> : tensor<32xf32>
    %offsets = arith.constant dense<[0, 1]> : tensor<2xi64>
    %positions = arith.constant dense<0> : tensor<1xi64>
    // expected-error @+1 {{GPU schedule: 34359738368 accumulator floats per thread exceed the budget of}}
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>, sparse3d.gpu_schedule = {outputs_per_thread = 4294967296 : i64, workgroup_size = 32 : i64}} : (tensor<1x4x1x1x9xf32>, tensor<32xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x8x1x1x9xf32>) -> tensor<1x8x1x1x9xf32>
    return %0 : tensor<1x8x1x1x9xf32>
  }
}
