// RUN: rt3d-opt %s --parallel-loops-to-gpu-grid=workgroup-size=8 | filecheck %s
// RUN: rt3d-opt %s --parallel-loops-to-gpu-grid | filecheck %s --check-prefix=TARGET
// RUN: not rt3d-opt %s --parallel-loops-to-gpu-grid=workgroup-size=-3 2>&1 | filecheck %s --check-prefix=NEGATIVE
// NEGATIVE: rt3d-opt: error: pass 'parallel-loops-to-gpu-grid': option 'workgroup-size' must be at least 1 (unset: from the GPU target), got -3

// 2x3x5 = 30 iterations as 4 workgroups of 8 threads (a 1x4 grid); the last 2 threads are
// guarded off, and each thread recovers (i, j, k) from its linear index.
// CHECK-LABEL: func.func @relu
// CHECK:       scf.parallel (%[[BY:.*]], %[[BX:.*]]) = (%{{.*}}, %{{.*}}) to (%c1{{.*}}, %c4) step
// CHECK:         scf.parallel (%[[T:.*]]) = (%{{.*}}) to (%c8) step
// CHECK:           %[[LIN:.*]] = arith.addi %{{.*}}, %[[T]] : index
// CHECK:           %[[IN:.*]] = arith.cmpi ult, %[[LIN]], %c30 : index
// CHECK:           scf.if %[[IN]] {
// CHECK:             arith.divui %[[LIN]], %c15 : index
// CHECK:             arith.maximumf
// CHECK:       } {mapping = [#gpu.loop_dim_map<processor = thread_x, map = (d0) -> (d0), bound = (d0) -> (d0)>]}
// CHECK:     } {mapping = [#gpu.loop_dim_map<processor = block_y, {{.*}}>, #gpu.loop_dim_map<processor = block_x, {{.*}}>]}
// Without the option the module's GPU target sets 64 threads (whole 16-wide subgroups).
// TARGET:    scf.parallel (%{{.*}}) = (%{{.*}}) to (%c64) step
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @relu(%a: memref<2x3x5xf32>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c3 = arith.constant 3 : index
    %c5 = arith.constant 5 : index
    %zero = arith.constant 0.0 : f32
    scf.parallel (%i, %j, %k) = (%c0, %c0, %c0) to (%c2, %c3, %c5) step (%c1, %c1, %c1) {
      %x = memref.load %a[%i, %j, %k] : memref<2x3x5xf32>
      %y = arith.maximumf %x, %zero : f32
      memref.store %y, %a[%i, %j, %k] : memref<2x3x5xf32>
      scf.reduce
    }
    return
  }
}
