// RUN: rt3d-opt %s --split-input-file --sparse3d-to-gpu | filecheck %s

// The conv becomes a call of a private function of tensors whose gpu.launch runs one workgroup per
// (output tile, filter block, batch item): 672 outputs in 21 tiles of 32, 2 filter blocks. The tables
// are i32 constants, plus where each group's weights start in values (64 + 32 + 8 entries before the last).
// CHECK-LABEL: func.func private @kgs_conv3d_gpu_0
// CHECK-SAME:  (%{{.*}}: tensor<1x6x4x6x28xf32>, %{{.*}}: tensor<112xf32>, %{{.*}}: tensor<5xi32>, %{{.*}}: tensor<7xi32>, %{{.*}}: tensor<4xi32>, %{{.*}}: tensor<1x10x4x6x28xf32>) -> tensor<1x10x4x6x28xf32>
// CHECK:       gpu.launch blocks({{.*}}) in ({{.*}} = %c21, {{.*}} = %c2, {{.*}} = %c1) threads({{.*}}) in ({{.*}} = %c32, {{.*}} = %c1, {{.*}} = %c1)
// CHECK:         scf.for {{.*}} -> (vector<4xf32>, vector<4xf32>)
// CHECK:           memref.load {{.*}} : memref<4xi32>
// CHECK:           scf.for {{.*}} -> (vector<4xf32>, vector<4xf32>)
// CHECK:             memref.load {{.*}} : memref<7xi32>
// CHECK:             scf.for {{.*}} -> (vector<4xf32>, vector<4xf32>)
// CHECK-COUNT-2:       vector.from_elements {{.*}} : vector<4xf32>
// CHECK:               memref.load {{.*}} : memref<4032xf32>
// CHECK:               vector.broadcast
// CHECK-COUNT-2:       vector.fma
// CHECK:         memref.store {{.*}} : memref<6720xf32>
// CHECK:         gpu.terminator
// CHECK:       bufferization.to_tensor
// CHECK-LABEL: func.func @conv
// CHECK-DAG:   arith.constant dense<[0, 2, 4, 5, 7]> : tensor<5xi32>
// CHECK-DAG:   arith.constant dense<[0, 64, 96, 104]> : tensor<4xi32>
// CHECK:       call @kgs_conv3d_gpu_0
// CHECK-NOT:   sparse3d.kgs_conv3d
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @conv(%in: tensor<1x6x4x6x28xf32>, %init: tensor<1x10x4x6x28xf32>) -> tensor<1x10x4x6x28xf32> {
    %values = arith.constant dense<1.0> : tensor<112xf32>
    %offsets = arith.constant dense<[0, 2, 4, 5, 7]> : tensor<5xi64>
    %positions = arith.constant dense<[0, 13, 1, 26, 4, 5, 6]> : tensor<7xi64>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>, sparse3d.gpu_schedule = {outputs_per_thread = 1 : i64, workgroup_size = 32 : i64}} : (tensor<1x6x4x6x28xf32>, tensor<112xf32>, tensor<5xi64>, tensor<7xi64>, tensor<1x10x4x6x28xf32>) -> tensor<1x10x4x6x28xf32>
    return %0 : tensor<1x10x4x6x28xf32>
  }
}

// -----

// A +fp16 target stores the weights as f16; the kernel widens each to f32 as it loads it.
// CHECK-LABEL: func.func private @kgs_conv3d_gpu_0
// CHECK-SAME:  tensor<112xf16>
// CHECK:         memref.load {{.*}} : memref<112xf16>
// CHECK-NEXT:    arith.extf {{.*}} : f16 to f32
// CHECK-LABEL: func.func @conv_fp16
// CHECK:       arith.constant dense<1.000000e+00> : tensor<112xf16>
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, fp16 = true, name = "mali-valhall+fp16", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @conv_fp16(%in: tensor<1x6x4x6x28xf32>, %init: tensor<1x10x4x6x28xf32>) -> tensor<1x10x4x6x28xf32> {
    %values = arith.constant dense<1.0> : tensor<112xf32>
    %offsets = arith.constant dense<[0, 2, 4, 5, 7]> : tensor<5xi64>
    %positions = arith.constant dense<[0, 13, 1, 26, 4, 5, 6]> : tensor<7xi64>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>, sparse3d.gpu_schedule = {outputs_per_thread = 1 : i64, workgroup_size = 32 : i64}} : (tensor<1x6x4x6x28xf32>, tensor<112xf32>, tensor<5xi64>, tensor<7xi64>, tensor<1x10x4x6x28xf32>) -> tensor<1x10x4x6x28xf32>
    return %0 : tensor<1x10x4x6x28xf32>
  }
}

// -----

// A bias broadcast as init: the kernel reads the 1-D bias (filter f starts from bias[f]); the
// broadcast is gone.
// CHECK-LABEL: func.func private @kgs_conv3d_gpu_0
// CHECK-SAME:  %{{.*}}: tensor<10xf32>) -> tensor<1x10x4x6x28xf32>
// CHECK:         memref.load {{.*}} : memref<10xf32>
// CHECK-LABEL: func.func @conv_bias
// CHECK-NOT:   linalg.broadcast
// CHECK:       call @kgs_conv3d_gpu_0({{.*}}) : ({{.*}}, tensor<10xf32>) -> tensor<1x10x4x6x28xf32>
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @conv_bias(%in: tensor<1x6x4x6x28xf32>, %bias: tensor<10xf32>) -> tensor<1x10x4x6x28xf32> {
    %empty = tensor.empty() : tensor<1x10x4x6x28xf32>
    %init = linalg.broadcast ins(%bias : tensor<10xf32>) outs(%empty : tensor<1x10x4x6x28xf32>) dimensions = [0, 2, 3, 4]
    %values = arith.constant dense<1.0> : tensor<112xf32>
    %offsets = arith.constant dense<[0, 2, 4, 5, 7]> : tensor<5xi64>
    %positions = arith.constant dense<[0, 13, 1, 26, 4, 5, 6]> : tensor<7xi64>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>, sparse3d.gpu_schedule = {outputs_per_thread = 1 : i64, workgroup_size = 32 : i64}} : (tensor<1x6x4x6x28xf32>, tensor<112xf32>, tensor<5xi64>, tensor<7xi64>, tensor<1x10x4x6x28xf32>) -> tensor<1x10x4x6x28xf32>
    return %0 : tensor<1x10x4x6x28xf32>
  }
}

// -----

// +fp16-math: f16 vec4 sums inside each group, added to the f32 totals after it.
// CHECK-LABEL: func.func private @kgs_conv3d_gpu_0
// CHECK:             vector.from_elements {{.*}} : vector<4xf16>
// CHECK:             arith.truncf {{.*}} : f32 to f16
// CHECK:             vector.fma {{.*}} : vector<4xf16>
// CHECK:         arith.extf {{.*}} : vector<4xf16> to vector<4xf32>
// CHECK-LABEL: func.func @conv_fp16_math
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, fp16 = true, fp16_math = true, name = "mali-valhall+fp16-math", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @conv_fp16_math(%in: tensor<1x6x4x6x28xf32>, %init: tensor<1x10x4x6x28xf32>) -> tensor<1x10x4x6x28xf32> {
    %values = arith.constant dense<1.0> : tensor<112xf32>
    %offsets = arith.constant dense<[0, 2, 4, 5, 7]> : tensor<5xi64>
    %positions = arith.constant dense<[0, 13, 1, 26, 4, 5, 6]> : tensor<7xi64>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>, sparse3d.gpu_schedule = {outputs_per_thread = 1 : i64, workgroup_size = 32 : i64}} : (tensor<1x6x4x6x28xf32>, tensor<112xf32>, tensor<5xi64>, tensor<7xi64>, tensor<1x10x4x6x28xf32>) -> tensor<1x10x4x6x28xf32>
    return %0 : tensor<1x10x4x6x28xf32>
  }
}
