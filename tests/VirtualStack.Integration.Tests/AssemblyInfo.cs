// Linux only: network namespaces, TUN, setns(2), AF_PACKET.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

// The integration tests start real daemons in network namespaces and measure loss: on a 2-core machine, running
// them side by side would make timing failures out of scheduling. One at a time, as a person would run them.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
