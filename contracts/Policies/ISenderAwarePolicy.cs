namespace VirtualStack.Contracts.Policies;

/// <summary>What a policy wants to know about a flow's local sender (<see cref="FlowContext.Sender"/>).</summary>
[Flags]
public enum SenderDetails
{
    /// <summary>Nothing: no lookup.</summary>
    None = 0,

    /// <summary>The socket owner's uid (one read of the socket table per new flow).</summary>
    Uid = 1,

    /// <summary>
    /// The process holding the socket and its control groups: a walk over every process's descriptors
    /// (<c>/proc/*/fd</c>), milliseconds to tens of milliseconds, so the host does it off the pipeline thread and the
    /// flow's first packets (until it is done) see a sender with its uid but no process and no cgroups.
    /// </summary>
    Cgroup = 2,
}

/// <summary>
/// A policy that decides by the sending process: the host looks the sender up once per flow, on the flow's first
/// packet (the uid before <see cref="IDecisionPolicy.Choose"/> is called for it; the process and its cgroups shortly
/// after, see <see cref="SenderDetails.Cgroup"/>), and passes it in <see cref="FlowContext.Sender"/>.
/// </summary>
/// <remarks>
/// A TUN device delivers bare IP packets; the host finds the sender from the packet's source address and port in the
/// kernel's socket table of its own network namespace (UDP and TCP, IPv4 and IPv6). Where the kernel does not tell
/// (other protocols, a socket already closed, another network namespace) the sender is null.
/// </remarks>
public interface ISenderAwarePolicy : IDecisionPolicy
{
    /// <summary>What to look up; read once when the policy is installed.</summary>
    SenderDetails SenderDetails { get; }
}
