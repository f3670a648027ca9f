using System.Globalization;
using VirtualStack.Contracts.Measurements;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Policies;
using VirtualStack.Host.Flows;

namespace VirtualStack.Host.Decision;

/// <summary>
/// A configured rule's decision, as the pipeline sees it: calls the rule's policy plugin for every packet and keeps
/// the plugin's mistakes away from the flows. A policy that throws or answers an index out of range leaves the flow on
/// the stack it has (<see cref="KeepCurrent"/>); the error is counted, kept for <c>vs status</c> and logged once per
/// <see cref="ReportPeriodMs"/> by <see cref="ReportErrors"/>; a policy that throws more than
/// <see cref="MaxErrorsPerSecond"/> times in a second is not asked again until the next second (an exception costs
/// microseconds; a policy throwing on every packet would otherwise stall the pipeline).
/// </summary>
/// <remarks>
/// The binding (policy, operator override, epoch) is immutable and swapped in one volatile write by the management
/// interface, so <see cref="Choose"/> reads it once per packet without a lock.
/// </remarks>
internal sealed class RulePolicy : IFlowPolicy, IDisposable
{
    /// <summary>
    /// "Leave the flow on its current stack" on the pipeline's path: a stack index no rule can have (the decision
    /// stage keeps choices in a <see cref="short"/>, and a negative one would mean the first stack).
    /// </summary>
    public const int KeepCurrent = short.MaxValue;

    public const int MaxErrorsPerSecond = 100;

    public const long ReportPeriodMs = 10_000;

    private readonly Lock _gate = new();
    private readonly string[] _stacks;
    private volatile PolicyBinding _binding;

    // Written by the pipeline thread only (one shard); read by management. A torn read of a counter is harmless.
    private long _errors;
    private long _suspendedPackets;
    private long _windowSecond = long.MinValue;
    private int _windowErrors;
    private long _suspendedUntil = long.MinValue;
    private long _senderLookups;
    private long _sendersUnknown;
    private volatile string? _lastError;

    // Reporting state, touched only by ReportErrors (the management timer).
    private long _reportedErrors;
    private long _reportedAt = long.MinValue;

    public RulePolicy(string rule, IReadOnlyList<string> stacks, PolicyBinding binding)
    {
        Rule = rule;
        _stacks = [.. stacks];
        _binding = binding;
    }

    public string Rule { get; }

    public IReadOnlyList<string> Stacks => _stacks;

    public string Name => _binding.Name;

    public PolicyBinding Binding => _binding;

    /// <summary>The epoch per-flow overrides must carry to stay in force.</summary>
    public long Epoch => _binding.Epoch;

    /// <summary>Exceptions thrown by the policy (Choose and Observe) and indexes out of range it answered.</summary>
    public long Errors => Volatile.Read(ref _errors);

    /// <summary>Packets kept on their stack without asking the policy, because it threw too often that second.</summary>
    public long SuspendedPackets => Volatile.Read(ref _suspendedPackets);

    public string? LastError => _lastError;

    /// <summary>
    /// The stack for one packet of <paramref name="flow"/>: the operator's override, else the policy's choice, which
    /// sees the flow's id, its current stack and (for a policy that asks) its local sender, looked up on the flow's
    /// first packet.
    /// </summary>
    public int Choose(in PacketInfo info, FlowEntry flow, long now)
    {
        PolicyBinding binding = _binding;
        if (binding.Forced >= 0)
        {
            return binding.Forced;
        }

        SenderDetails wanted = binding.SenderDetails;
        if (wanted != SenderDetails.None && (wanted & ~flow.SenderLooked) != 0)
        {
            LookUpSender(flow, wanted);
        }

        return Ask(binding, info, new FlowContext(flow.CreatedAt, now, _stacks.Length, flow.Id, flow.Engine.Active, Volatile.Read(ref flow.Sender)), now);
    }

    /// <summary>The stack for a packet of a flow known only by its start (no id, no current stack, no sender).</summary>
    public int Choose(in PacketInfo info, long flowCreatedAt, long now)
    {
        PolicyBinding binding = _binding;
        return binding.Forced >= 0 ? binding.Forced : Ask(binding, info, new FlowContext(flowCreatedAt, now, _stacks.Length), now);
    }

    /// <summary>Flows whose sender was looked up, and those of them the kernel could not tell.</summary>
    public long SenderLookups => Volatile.Read(ref _senderLookups);

    public long SendersUnknown => Volatile.Read(ref _sendersUnknown);

    private int Ask(PolicyBinding binding, in PacketInfo info, in FlowContext context, long now)
    {
        if (now < _suspendedUntil)
        {
            _suspendedPackets++;
            return KeepCurrent;
        }

        int choice;
        try
        {
            choice = binding.Policy.Choose(info, context);
        }
        catch (Exception e)
        {
            Failed($"{e.GetType().Name}: {e.Message}", now);
            return KeepCurrent;
        }

        if ((uint)choice < (uint)_stacks.Length)
        {
            return choice;
        }

        if (choice != PolicyChoice.Keep)
        {
            Failed(string.Create(CultureInfo.InvariantCulture, $"chose stack {choice}; the rule has {_stacks.Length}"), now);
        }

        return KeepCurrent;
    }

    /// <summary>
    /// Once per flow (and once more if a new policy wants more detail): the kernel's account of the sender. The uid
    /// at once (one small file read), so the first packet is decided by it; the process and its cgroups on the thread
    /// pool (a walk over every process's descriptors), published to the flow when found.
    /// </summary>
    private void LookUpSender(FlowEntry flow, SenderDetails wanted)
    {
        flow.SenderLooked |= wanted;
        _senderLookups++;
        (int Uid, long Inode)? socket;
        try
        {
            socket = FlowSenderLookup.FindSocket(flow.Key);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            socket = null;
        }

        if (socket is not { } found)
        {
            _sendersUnknown++;
            return;
        }

        if (flow.Sender is null || flow.Sender.Uid != found.Uid)
        {
            Volatile.Write(ref flow.Sender, new FlowSender(found.Uid, -1, []));
        }

        if ((wanted & SenderDetails.Cgroup) != 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(new CgroupLookup(flow, found.Uid, found.Inode), preferLocal: false);
        }
    }

    /// <summary>The slow half of a sender lookup, on the thread pool; the flow's next packets see what it found.</summary>
    private sealed class CgroupLookup(FlowEntry flow, int uid, long inode) : IThreadPoolWorkItem
    {
        public void Execute()
        {
            try
            {
                Volatile.Write(ref flow.Sender, FlowSenderLookup.Describe(uid, inode));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process went away meanwhile: the flow keeps its uid alone.
            }
        }
    }

    /// <summary>Hands a measurement to the policy. Returns null, or the policy's error (also counted).</summary>
    public string? Observe(in Measurement measurement)
    {
        try
        {
            _binding.Policy.Observe(measurement);
            return null;
        }
        catch (Exception e)
        {
            string error = $"{e.GetType().Name}: {e.Message}";
            Interlocked.Increment(ref _errors);
            _lastError = $"Observe: {error}";
            return error;
        }
    }

    /// <summary>The policy's own account of its state (<see cref="IDecisionPolicy.Status"/>), or its error.</summary>
    public string? PolicyStatus()
    {
        try
        {
            return _binding.Policy.Status;
        }
        catch (Exception e)
        {
            return $"(status failed: {e.GetType().Name}: {e.Message})";
        }
    }

    /// <summary>Puts every flow of the rule on one stack until the next change (<c>vs switch RULE STACK</c>).</summary>
    public PolicyBinding Force(int stack)
    {
        lock (_gate)
        {
            PolicyBinding current = _binding;
            _binding = current with { Forced = stack, Epoch = current.Epoch + 1 };
            return _binding;
        }
    }

    /// <summary>
    /// Replaces the policy (<c>vs policy</c>): ends the operator's overrides too. Returns the old binding; its policy
    /// must be disposed only once the pipeline can no longer be inside it.
    /// </summary>
    public PolicyBinding Replace(PolicyBinding next)
    {
        lock (_gate)
        {
            PolicyBinding old = _binding;
            _binding = next with { Forced = -1, Epoch = old.Epoch + 1 };
            return old;
        }
    }

    /// <summary>The next epoch, for a binding being prepared outside the lock.</summary>
    public long NextEpoch => _binding.Epoch + 1;

    /// <summary>
    /// Logs the errors counted since the last report, at most once per <see cref="ReportPeriodMs"/> (the first one at
    /// once). Called by the management timer, never by the pipeline.
    /// </summary>
    public void ReportErrors(long now, Action<string> log)
    {
        long errors = Errors;
        if (errors == _reportedErrors || (_reportedAt != long.MinValue && now - _reportedAt < ReportPeriodMs))
        {
            return;
        }

        long suspended = SuspendedPackets;
        log(string.Create(CultureInfo.InvariantCulture,
            $"rule {Rule}: policy {Name} failed {errors - _reportedErrors} time(s) ({errors} in all; last: {_lastError}); " +
            $"its flows stay on their current stacks{(suspended > 0 ? $"; {suspended} packets kept without asking it" : "")}"));
        _reportedErrors = errors;
        _reportedAt = now;
    }

    public void Dispose() => (_binding.Policy as IDisposable)?.Dispose();

    private void Failed(string error, long now)
    {
        Interlocked.Increment(ref _errors);
        _lastError = error;
        long second = now / 1000;
        if (second != _windowSecond)
        {
            _windowSecond = second;
            _windowErrors = 0;
        }

        if (++_windowErrors >= MaxErrorsPerSecond)
        {
            _suspendedUntil = (second + 1) * 1000;
        }
    }
}
