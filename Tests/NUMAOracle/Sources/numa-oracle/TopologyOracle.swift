import CNUMA
import Glibc
import Platform

/// The nodes set in a libnuma bitmask, below `limit`.
func libnumaNodes(_ mask: UnsafeMutablePointer<bitmask>, below limit: Int) -> [Int] {
    (0..<limit).filter { numa_bitmask_isbitset(mask, UInt32($0)) != 0 }
}

/// SystemTopology against libnuma: every answer the heap relies on.
func checkTopology(_ topology: SystemTopology) {
    let maxNode = Int(numa_max_node())
    let online = topology.onlineNodes
    let libnumaNodeList = libnumaNodes(oracle_numa_nodes_ptr(), below: maxNode + 1)

    // Nodes: libnuma's are the nodeN directories (numa_nodes_ptr), its highest is numa_max_node().
    print("nodes: ours \(online) (nodeLimit \(topology.nodeLimit)), libnuma \(libnumaNodeList) (numa_max_node \(maxNode))")
    if online != libnumaNodeList { mismatch("online nodes: SystemTopology \(online), libnuma numa_nodes_ptr \(libnumaNodeList)") }
    if (online.last ?? -1) != maxNode { mismatch("highest node: SystemTopology \(online.last ?? -1), libnuma numa_max_node() \(maxNode)") }
    // nodeLimit counts *possible* nodes, which libnuma does not report; it can only be larger.
    if topology.nodeLimit < maxNode + 1 { mismatch("nodeLimit \(topology.nodeLimit) < numa_max_node()+1 = \(maxNode + 1)") }

    // Nodes with memory: libnuma counts nodes whose numa_node_size64 > 0 (numa_num_configured_nodes)
    // and allows allocation on numa_get_mems_allowed().
    let memory = topology.memoryNodes
    let configured = Int(numa_num_configured_nodes())
    let sized = (0...maxNode).filter { numa_node_size64(Int32($0), nil) > 0 }
    let allowedMask = numa_get_mems_allowed()!
    let allowed = libnumaNodes(allowedMask, below: maxNode + 1)
    numa_bitmask_free(allowedMask)
    print("memory nodes: ours \(memory), libnuma size>0 \(sized), numa_get_mems_allowed \(allowed), numa_num_configured_nodes \(configured)")
    if memory.count != configured { mismatch("nodes with memory: SystemTopology \(memory.count) (\(memory)), numa_num_configured_nodes() \(configured)") }
    if memory != sized { mismatch("nodes with memory: SystemTopology \(memory), libnuma numa_node_size64 > 0 on \(sized)") }
    if memory != allowed { mismatch("nodes with memory: SystemTopology \(memory), numa_get_mems_allowed() \(allowed)") }

    // CPU → node for every configured CPU (numa_node_of_cpu reads nodeN/cpumap, not cpulist).
    let configuredCPUs = Int(numa_num_configured_cpus())
    var cpuMismatches = 0
    for cpu in 0..<configuredCPUs {
        let theirs = Int(numa_node_of_cpu(Int32(cpu)))
        let ours = topology.node(ofCPU: cpu) ?? -1
        if theirs != ours {
            cpuMismatches += 1
            mismatch("CPU \(cpu): SystemTopology node \(ours), numa_node_of_cpu \(theirs)")
        }
    }
    print("CPU → node: \(configuredCPUs) configured CPUs, \(cpuMismatches) mismatches; cpuLimit \(topology.cpuLimit)")
    if topology.cpuLimit < configuredCPUs { mismatch("cpuLimit \(topology.cpuLimit) < numa_num_configured_cpus() \(configuredCPUs)") }

    // CPUs, size and distances per node.
    let cpumask = numa_allocate_cpumask()!
    defer { numa_bitmask_free(cpumask) }
    for n in online {
        let ours = Array(topology.cpus(of: n))
        var theirs: [Int] = []
        if numa_node_to_cpus(Int32(n), cpumask) == 0 {
            theirs = (0..<Int(numa_bitmask_nbytes(cpumask)) * 8).filter { numa_bitmask_isbitset(cpumask, UInt32($0)) != 0 }
        } else {
            mismatch("node \(n): numa_node_to_cpus failed (errno \(errno))")
        }
        if ours != theirs { mismatch("node \(n) CPUs: SystemTopology \(ours), numa_node_to_cpus \(theirs)") }

        var free: Int64 = 0
        let size = numa_node_size64(Int32(n), &free)
        let ourSize = topology.memoryBytes(of: n)
        let tolerance = max(Int64(ourSize), size) / 100
        if abs(Int64(ourSize) - size) > tolerance {
            mismatch("node \(n) size: SystemTopology \(ourSize) bytes, numa_node_size64 \(size) (more than 1% apart)")
        }

        let row = online.map { topology.distance(from: n, to: $0) }
        let libnumaRow = online.map { Int(numa_distance(Int32(n), Int32($0))) }
        if row != libnumaRow { mismatch("node \(n) distances to \(online): SystemTopology \(row), numa_distance \(libnumaRow)") }
        print("node \(n): cpus \(ours) | size \(ourSize >> 20) MiB (libnuma \(size >> 20) MiB, free \(free >> 20) MiB) | distances \(row) (libnuma \(libnumaRow))")
    }

    // getcpu's node agrees with the topology's map for the CPU it names.
    let now = SystemTopology.currentCPUAndNode()
    if topology.node(ofCPU: now.cpu) != now.node {
        mismatch("getcpu: CPU \(now.cpu) on node \(now.node), SystemTopology says node \(topology.node(ofCPU: now.cpu).map(String.init) ?? "none")")
    }
}
