using VirtualStack.Contracts.Measurements;
using VirtualStack.Contracts.Packets;

namespace VirtualStack.Contracts.Policies;

/// <summary>
/// A rule's decision policy: chooses, for every packet of the rule's flows, which of the rule's stacks carries it.
/// </summary>
/// <remarks>
/// <para><see cref="Choose"/> runs on the pipeline thread for every packet: it must be cheap, must not block and must
/// not allocate. A policy that throws, or returns an index out of range, leaves the flow on the stack it has (the
/// host counts and reports the error); a policy that throws too often is not asked again for the rest of that
/// second.</para>
/// <para><see cref="Observe"/> runs on other threads (the management interface, the host's sampler), possibly while
/// <see cref="Choose"/> runs: publish what <see cref="Choose"/> reads with a single volatile write (or a lock that
/// <see cref="Choose"/> does not take).</para>
/// <para>A policy replaced at run time (<c>vs policy</c>) is disposed if it implements <see cref="IDisposable"/>,
/// once the pipeline no longer calls it.</para>
/// </remarks>
public interface IDecisionPolicy
{
    /// <summary>
    /// The index into the rule's stack list that should carry <paramref name="packet"/>, or
    /// <see cref="PolicyChoice.Keep"/> to leave the flow on the stack it has (the first stack for a new flow).
    /// A stack not ready yet does not take the packet: the flow stays where it is until the wanted stack is built.
    /// </summary>
    int Choose(in PacketInfo packet, in FlowContext flow);

    /// <summary>Takes a measurement about one of the rule's stacks, or about one flow on it. Ignore what is not needed.</summary>
    void Observe(in Measurement measurement);

    /// <summary>A short human-readable state for <c>vs status</c> (for example "on udpA; udpB bad: loss 0.12"), or null.</summary>
    string? Status { get; }
}

/// <summary>Special values of <see cref="IDecisionPolicy.Choose"/>.</summary>
public static class PolicyChoice
{
    /// <summary>No change: the flow stays on its current stack (a new flow takes the rule's first stack).</summary>
    public const int Keep = -1;
}
