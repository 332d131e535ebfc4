// RUN: rt3d-opt %s --split-input-file --verify-diagnostics --gpu-spirv-abi | filecheck %s

// Each gpu.module gets the SPIR-V environment of the module's GPU target (also as its binary target),
// each kernel the entry-point ABI with its launch's workgroup size.
// CHECK:       gpu.module @k [#spirv.target_env<#spirv.vce<v1.3, [Shader], [SPV_KHR_storage_buffer_storage_class]>, api=Vulkan, #spirv.resource_limits<max_compute_shared_memory_size = 32768, max_compute_workgroup_invocations = 512, max_compute_workgroup_size = [512, 512, 512], subgroup_size = 16>>] attributes {spirv.target_env = #spirv.target_env<{{.*}}>}
// CHECK:       gpu.func @k(%{{.*}}: memref<64xf32>) kernel attributes {known_block_size = array<i32: 64, 1, 1>, spirv.entry_point_abi = #spirv.entry_point_abi<workgroup_size = [64, 1, 1]>}
module attributes {gpu.container_module, sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  gpu.module @k {
    gpu.func @k(%a: memref<64xf32>) kernel attributes {known_block_size = array<i32: 64, 1, 1>} {
      gpu.return
    }
  }
}

// -----

// An fp16 target's kernels may use f16 storage buffers: Float16 and StorageBuffer16BitAccess.
// CHECK:       gpu.module @k [#spirv.target_env<#spirv.vce<v1.3, [Shader, Float16, StorageBuffer16BitAccess], [SPV_KHR_storage_buffer_storage_class, SPV_KHR_16bit_storage]>
module attributes {gpu.container_module, sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, fp16 = true, name = "mali-valhall+fp16", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  gpu.module @k {
    gpu.func @k(%a: memref<64xf32>) kernel attributes {known_block_size = array<i32: 64, 1, 1>} {
      gpu.return
    }
  }
}

// -----

// A workgroup past the target's limits is an error here: MLIR does not check them.
module attributes {gpu.container_module, sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  gpu.module @k {
    // expected-error @+1 {{workgroup size [1024, 1, 1] exceeds mali-valhall's limits (max_invocations 512, max_workgroup_size [512, 512, 512])}}
    gpu.func @k(%a: memref<64xf32>) kernel attributes {known_block_size = array<i32: 1024, 1, 1>} {
      gpu.return
    }
  }
}
