// RUN: rt3d-opt %s --kgs-to-spirv | filecheck %s

// The whole pipeline: the KGS conv and the rest become gpu.launch_func ops on the host side and
// one serialised SPIR-V binary per kernel, for the module's GPU target.
// CHECK-LABEL: func.func @conv
// CHECK-NOT:   sparse3d.kgs_conv3d
// CHECK:       memref.get_global
// CHECK:       gpu.launch_func @conv_kernel{{.*}} blocks in (%c21, %c2, %c1) threads in (%c32, %c1, %c1)
// CHECK-SAME:  args({{.*}} : memref<5xi32>
// CHECK:       gpu.binary @conv_kernel{{.*}} [#gpu.object<#spirv.target_env<#spirv.vce<v1.3, [Shader], [SPV_KHR_storage_buffer_storage_class]>
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @conv(%in: tensor<1x6x4x6x28xf32>, %init: tensor<1x10x4x6x28xf32>) -> tensor<1x10x4x6x28xf32> {
    %values = arith.constant dense<1.0> : tensor<112xf32>
    %offsets = arith.constant dense<[0, 2, 4, 5, 7]> : tensor<5xi64>
    %positions = arith.constant dense<[0, 13, 1, 26, 4, 5, 6]> : tensor<7xi64>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x6x4x6x28xf32>, tensor<112xf32>, tensor<5xi64>, tensor<7xi64>, tensor<1x10x4x6x28xf32>) -> tensor<1x10x4x6x28xf32>
    return %0 : tensor<1x10x4x6x28xf32>
  }
}
