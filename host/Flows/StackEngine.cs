using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Decision;
using VirtualStack.Host.Metrics;
using VirtualStack.Host.Multipath;
using VirtualStack.Host.Pipeline;
using VirtualStack.Host.Rules;
using VirtualStack.Host.Stacks;

namespace VirtualStack.Host.Flows;

/// <summary>
/// A flow's stack engine: its application endpoint (the key, for rebuilding replies), its NAT, and its stacks,
/// each built once and cached. Switching stacks changes which cached slot is active (make before break): a slot
/// that is not ready yet never takes packets, the flow keeps using the one it had. A flow that has no ready stack at
/// all (its first one is being built) holds its packets (<see cref="HeldPackets"/>) and sends them first, in order,
/// on the stack that becomes ready.
/// </summary>
/// <remarks>
/// Every switch is timed from the first packet for which the decision wanted the new stack to the first packet that
/// stack accepted (<see cref="StackSlot.ArmFirstSend"/>): for a cached stack that is the same packet, a few
/// microseconds; for a stack built on demand it includes the build.
/// </remarks>
internal sealed class StackEngine : IDisposable
{
    private const long RetryAfterFailureMs = 1000;

    private readonly FlowKey _key;
    private readonly Rule _rule;
    private readonly StackSlot[] _slots;
    private readonly IReplyWriter _replies;
    private readonly RulePolicy? _policy;
    private readonly PipelineCounters _counters;
    private readonly int _holdPackets;
    private HeldPackets? _held;
    private int _active = -1;

    // The stack the decision wants while it is not the active one yet: since when (Stopwatch timestamp), and
    // whether it was already built at that moment.
    private int _pending = -1;
    private long _pendingSince;
    private bool _pendingCached;

    // An operator's override of this one flow: (epoch << 16) | (stack + 1), 0 for none. It holds while the rule's
    // policy binding is in that epoch (a later vs policy or vs switch RULE ends it).
    private long _override;
    private SwitchHistory? _history;

    // Migration (vs migrate, or the rule's Fallback): per slot, the far end it is (re)built for from now on (null
    // until the first migration; an element is null for a slot that was not moved).
    private StrongBox<NetEndpoint>?[]? _farEnds;
    private StrongBox<NetEndpoint>? _lastMigratedTo;

    // Whether the far end answers, for the rule's Fallback: the last reply (receive thread) and the first packet
    // sent after it (pipeline thread), in milliseconds.
    private long _lastReplyAt = long.MinValue;
    private long _unansweredSince;
    private long _nextFallbackCheck;
    private bool _fellBack;

    public StackEngine(FlowKey key, Rule rule, IReplyWriter replies, PipelineCounters counters, int holdPackets)
    {
        _key = key;
        _rule = rule;
        _replies = replies;
        _counters = counters;
        _holdPackets = holdPackets;
        _policy = rule.Policy as RulePolicy;
        _slots = new StackSlot[rule.Stacks.Length];
        for (int i = 0; i < _slots.Length; i++)
        {
            _slots[i] = new StackSlot(this, rule.Stacks[i]);
        }
    }

    private string? _keyText;

    public IReadOnlyList<StackSlot> Slots => _slots;

    public FlowKey Key => _key;

    /// <summary>The key as text, made once (metrics tag every flow's series with it).</summary>
    public string KeyText => _keyText ??= _key.ToString();

    public Rule Rule => _rule;

    /// <summary>Index of the slot carrying the flow now, -1 before the first packet.</summary>
    public int Active => _active;

    /// <summary>The stack the decision wants but that does not carry the flow yet (being built), or -1.</summary>
    public int Pending => Volatile.Read(ref _pending);

    public long Switches { get; private set; }

    /// <summary>Times this flow was moved to another far end (vs migrate, Fallback).</summary>
    public long Migrations { get; private set; }

    /// <summary>How long the last migration took, from the command to the new stack flow carrying the flow.</summary>
    public TimeSpan LastMigrationTime { get; private set; }

    /// <summary>The far end this flow was moved to, or null.</summary>
    public NetEndpoint? MigratedTo => _lastMigratedTo?.Value;

    /// <summary>The multipath flow carrying this flow when its rule has Paths (once built), else null.</summary>
    public MultipathFlow? MultipathFlow => _slots.Length == 1 ? _slots[0].StackFlow as MultipathFlow : null;

    public long RepliesDelivered;

    /// <summary>Packets held since the flow began because no stack of it was ready (see <see cref="Hold"/>).</summary>
    public long HeldTotal => _held?.Total ?? 0;

    /// <summary>The switches of this flow with their delays, or null before the first.</summary>
    public SwitchHistory? History => Volatile.Read(ref _history);

    /// <summary>The stack an operator forced this flow onto, while that override holds; else -1.</summary>
    public int Forced
    {
        get
        {
            long value = Volatile.Read(ref _override);
            return value != 0 && _policy is { } policy && (value >> 16) == policy.Epoch ? (int)(value & 0xffff) - 1 : -1;
        }
    }

    /// <summary>Forces this flow onto <paramref name="stack"/> until the rule's policy changes (<c>vs switch FLOW STACK</c>).</summary>
    public void Force(int stack)
    {
        long epoch = _policy?.Epoch ?? 0;
        Volatile.Write(ref _override, (epoch << 16) | (uint)(stack + 1));
    }

    /// <summary>
    /// The slot that carries the next packet: the one the decision wants when it is ready (building it on first use),
    /// else the active one while the wanted one is being built, else null (nothing ready yet).
    /// <paramref name="wanted"/> out of range (<see cref="RulePolicy.KeepCurrent"/>) keeps the active slot.
    /// </summary>
    public StackSlot? Route(int wanted, long now)
    {
        long forced = _override;
        if (forced != 0 && _policy is { } policy && (forced >> 16) == policy.Epoch)
        {
            wanted = (int)(forced & 0xffff) - 1;
        }

        if ((uint)wanted >= (uint)_slots.Length)
        {
            wanted = _active >= 0 ? _active : 0;
        }

        StackSlot target = _slots[wanted];
        if (wanted != _active)
        {
            if (_pending != wanted)
            {
                _pending = wanted;
                _pendingSince = Stopwatch.GetTimestamp();
                _pendingCached = target.State is SlotState.Ready;
            }
        }
        else if (_pending >= 0)
        {
            // The decision came back to the active stack before the other one was ready: no switch happened.
            _pending = -1;
        }

        if (target.PendingFault is { } fault)
        {
            // The stack reported the connection dead: close it; it is rebuilt when traffic goes on (to the rule's
            // Fallback, when it names one: the far end is unreachable).
            target.ClearFault();
            if (_rule.Fallback is { } fallback && !_fellBack)
            {
                FallBack(fallback, $"its stack {target.Runtime.Name} reported: {fault}", now);
            }

            Close(target, fault, now);
        }

        if (target.State is SlotState.NotBuilt || (target.State is SlotState.Failed && now - target.FailedAt >= RetryAfterFailureMs))
        {
            Build(target, now);
        }

        if (target.State is SlotState.Ready)
        {
            Activate(wanted);
            if (_rule.Fallback is not null && !_fellBack)
            {
                WatchForFallback(now);
            }

            ReleaseHeld(target);
            return target;
        }

        // Make before break: keep the current stack until the wanted one is ready.
        StackSlot? current = _active >= 0 && _slots[_active].State is SlotState.Ready ? _slots[_active] : null;
        if (current is not null)
        {
            ReleaseHeld(current);
        }

        return current;
    }

    /// <summary>
    /// Keeps a copy of a packet for which <see cref="Route"/> found no ready stack while one is being built; it goes
    /// out first on the stack that becomes ready. False when nothing is being built or the flow holds all it may:
    /// the caller drops the packet. Pipeline thread.
    /// </summary>
    public bool Hold(ReadOnlySpan<byte> packet, in PacketInfo info, FlowEntry? entry)
    {
        if (_holdPackets == 0 || !AnyBuilding())
        {
            return false;
        }

        _held ??= new HeldPackets(_holdPackets);
        if (!_held.Add(packet, info, entry))
        {
            return false;
        }

        _counters.Held++;
        return true;
    }

    // Makes slot `index` the one carrying the flow (a switch when another one did).
    private void Activate(int index)
    {
        if (_active == index)
        {
            return;
        }

        if (_active >= 0)
        {
            Switches++;
            _slots[index].ArmFirstSend(_active, index, _pendingSince, _pendingCached);
        }

        _active = index;
        _pending = -1;
    }

    // Sends what the flow held on the slot that is ready now, before any later packet (the caller is about to route
    // one, or a build just completed between batches), and flushes the stack so the copies can be forgotten.
    private void ReleaseHeld(StackSlot slot)
    {
        if (_held is not { Count: > 0 } held || slot.Flow is not { } flow)
        {
            return;
        }

        for (int i = 0; i < held.Count; i++)
        {
            SlotSend.Send(flow, slot, held.Packet(i), ref held.Info(i), held.Entry(i), _counters);
        }

        slot.Runtime.Stack.Flush();
        held.Clear();
    }

    // Nothing will become ready for the held packets (the build failed, the flow ended): they are lost.
    private void DropHeld()
    {
        if (_held is not { Count: > 0 } held)
        {
            return;
        }

        for (int i = 0; i < held.Count; i++)
        {
            _counters.Drop(DropReason.StackNotReady);
            held.Entry(i)?.Drop(DropReason.StackNotReady);
        }

        held.Clear();
    }

    private bool AnyBuilding()
    {
        foreach (StackSlot slot in _slots)
        {
            if (slot.State is SlotState.Building)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Called by a slot when the first packet after a switch went out on it.</summary>
    internal void RecordSwitch(in SwitchRecord record)
    {
        if (_history is null)
        {
            Volatile.Write(ref _history, new SwitchHistory());
        }

        _history!.Add(record);
        StackSlot target = _slots[record.To];
        target.Timings.Switches.Add(record.DelayUs);
        SwitchMetrics.RecordSwitch(record.DelayUs, target.Runtime.Name, record.Cached);
    }

    /// <summary>
    /// <c>vs migrate</c>: moves the flow to <paramref name="to"/>: on a multipath flow one path (<paramref name="path"/>)
    /// or all of them; otherwise one of the rule's stacks (<paramref name="stack"/>) or all of them. Every built slot
    /// that moves gets a new stack flow to the new far end (a new UDP binding, a new DCCP connection) while the old one
    /// keeps carrying the flow (make before break); the application's view does not change: replies still come from
    /// what it addressed. Pipeline thread. Returns null, or why nothing was done.
    /// </summary>
    public string? Migrate(NetEndpoint to, string? path, long now, string? stack = null)
    {
        if (MigrationProblem(_rule, path, stack) is { } problem)
        {
            return problem;
        }

        if (_rule.Multipath is { } multipath)
        {
            if (MultipathFlow is not { } flow)
            {
                return "the flow's paths are not built yet";
            }

            flow.Retarget(path is null ? -1 : multipath.IndexOf(path), to);
            Migrations++;
            _lastMigratedTo = new StrongBox<NetEndpoint>(to);
            return null;
        }

        var target = new StrongBox<NetEndpoint>(to);
        _farEnds ??= new StrongBox<NetEndpoint>?[_slots.Length];
        _lastMigratedTo = target;
        Migrations++;
        for (int i = 0; i < _slots.Length; i++)
        {
            StackSlot slot = _slots[i];
            if (stack is not null && !slot.Runtime.Name.Equals(stack, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            _farEnds[i] = target;
            if (slot.State is SlotState.Ready)
            {
                Replace(slot, to, now);
            }
            else if (slot.State is SlotState.Building)
            {
                // A build to the old far end is given up (its result is disposed when it completes).
                Build(slot, now);
            }
        }

        return null;
    }

    /// <summary>Why <c>vs migrate</c> with this path or stack does not apply to <paramref name="rule"/>, or null.</summary>
    public static string? MigrationProblem(Rule rule, string? path, string? stack)
    {
        if (rule.Multipath is { } multipath)
        {
            if (stack is not null)
            {
                return $"rule {rule.Name} has paths, not stacks to choose: name a path (--path; paths: {string.Join(", ", multipath.Paths.Select(p => p.Name))})";
            }

            return path is not null && multipath.IndexOf(path) < 0
                ? $"rule {rule.Name} has no path '{path}' (paths: {string.Join(", ", multipath.Paths.Select(p => p.Name))})"
                : null;
        }

        if (path is not null)
        {
            return $"rule {rule.Name} has no Paths; migrate it without --path";
        }

        return stack is not null && !rule.Stacks.Any(s => s.Name.Equals(stack, StringComparison.OrdinalIgnoreCase))
            ? $"'{stack}' is not a stack of rule {rule.Name} ({string.Join(", ", rule.Stacks.Select(s => s.Name))})"
            : null;
    }

    private void WatchForFallback(long now)
    {
        long lastReply = Volatile.Read(ref _lastReplyAt);
        if (_unansweredSince == 0 || lastReply >= _unansweredSince)
        {
            _unansweredSince = now;
        }

        if (now < _nextFallbackCheck)
        {
            return;
        }

        _nextFallbackCheck = now + 20;
        if (lastReply < _unansweredSince && now - _unansweredSince >= _rule.FallbackAfterMs)
        {
            FallBack(_rule.Fallback!.Value, string.Create(CultureInfo.InvariantCulture, $"no reply for {now - _unansweredSince} ms"), now);
        }
    }

    private void FallBack(NetEndpoint fallback, string why, long now)
    {
        _fellBack = true;
        NetEndpoint from = _active >= 0 ? _slots[_active].Remote : _key.DestinationEndpoint;
        Cli.ConsoleLog.Write($"rule {_rule.Name}: flow {KeyText}: far end {from} unreachable ({why}): moving to the rule's Fallback {fallback}");
        Migrate(fallback, null, now);
    }

    private void Replace(StackSlot slot, NetEndpoint to, long now)
    {
        long started = Stopwatch.GetTimestamp();
        int generation = ++slot.ReplacementGeneration;
        ValueTask<IStackFlow> opening;
        try
        {
            opening = slot.Runtime.Stack.Open(_key, to, slot, CancellationToken.None);
        }
        catch (Exception e)
        {
            slot.LastError = $"migration to {to} failed: {e.GetBaseException().Message}";
            return;
        }

        if (opening.IsCompleted)
        {
            Replaced(slot, opening, generation, to, started);
        }
        else
        {
            _ = ReplaceLater(slot, opening, generation, to, started);
        }
    }

    private async Task ReplaceLater(StackSlot slot, ValueTask<IStackFlow> opening, int generation, NetEndpoint to, long started)
    {
        try
        {
            // Resumes on the shard's loop (its synchronization context, or its scheduler when begun in a task there), like CompleteLater.
            await opening;
        }
        catch (Exception)
        {
            // Observed through the ValueTask below.
        }

        Replaced(slot, opening, generation, to, started);
    }

    private void Replaced(StackSlot slot, ValueTask<IStackFlow> opening, int generation, NetEndpoint to, long started)
    {
        IStackFlow flow;
        try
        {
            flow = opening.Result;
        }
        catch (Exception e)
        {
            slot.LastError = $"migration to {to} failed: {e.GetBaseException().Message}";
            return;
        }

        if (slot.State is not SlotState.Ready || slot.ReplacementGeneration != generation)
        {
            // The slot was closed or rebuilt meanwhile (its build already uses the new far end), or a newer
            // migration overtook this one.
            flow.Dispose();
            return;
        }

        NetEndpoint from = slot.Remote;
        slot.Replace(flow);
        slot.Remote = to;
        LastMigrationTime = Stopwatch.GetElapsedTime(started);
        Cli.ConsoleLog.Write(string.Create(CultureInfo.InvariantCulture,
            $"rule {_rule.Name}: flow {KeyText}: stack {slot.Runtime.Name} moved from {from} to {to} (new stack flow ready in {LastMigrationTime.TotalMilliseconds:F1} ms)"));
    }

    private void Build(StackSlot slot, long now)
    {
        int index = Array.IndexOf(_slots, slot);
        NetEndpoint remote = _farEnds?[index]?.Value ?? _rule.MigratedTo[index]?.Value
            ?? (_rule.Nat is { } nat ? nat.Resolve(_key, slot.Runtime.Name) : _key.DestinationEndpoint);
        slot.Remote = remote;
        slot.State = SlotState.Building;
        slot.BuildStarted = Stopwatch.GetTimestamp();
        int generation = ++slot.BuildGeneration;
        ValueTask<IStackFlow> opening;
        try
        {
            opening = slot.Runtime.Stack.Open(_key, remote, slot, CancellationToken.None);
        }
        catch (Exception e)
        {
            Fail(slot, e, now);
            DropHeldUnlessBuilding();
            return;
        }

        if (opening.IsCompleted)
        {
            Complete(slot, opening, generation, now);
        }
        else
        {
            _ = CompleteLater(slot, opening, generation);
        }
    }

    private async Task CompleteLater(StackSlot slot, ValueTask<IStackFlow> opening, int generation)
    {
        try
        {
            // Resumes on the shard's loop (its synchronization context), so slot state is only ever touched there.
            await opening;
        }
        catch (Exception)
        {
            // Observed through the ValueTask below.
        }

        Complete(slot, opening, generation, Environment.TickCount64);
    }

    private void Complete(StackSlot slot, ValueTask<IStackFlow> opening, int generation, long now)
    {
        try
        {
            IStackFlow flow = opening.Result;
            if (slot.State is not SlotState.Building || slot.BuildGeneration != generation)
            {
                // The flow ended, or this build was given up (a fault) and another started: nobody will use it.
                flow.Dispose();
                return;
            }

            slot.Attach(flow);
            slot.BuildTime = Stopwatch.GetElapsedTime(slot.BuildStarted);
            slot.Builds++;
            slot.State = SlotState.Ready;
            slot.LastError = null;
            slot.Timings.Builds.Add(slot.BuildTime.TotalMicroseconds);
            SwitchMetrics.RecordBuild(slot.BuildTime.TotalMilliseconds, slot.Runtime.Name);
            Interlocked.Increment(ref slot.Runtime.FlowsOpened);
        }
        catch (Exception e)
        {
            Fail(slot, e, now);
            DropHeldUnlessBuilding();
            return;
        }

        // Packets held while no stack was ready go out now, not at the flow's next packet (there may be none: a
        // single request). Between batches: the loop runs this completion as a work item of its own.
        int index = Array.IndexOf(_slots, slot);
        if (_held is { Count: > 0 } && (_active < 0 || index == _pending || index == _active))
        {
            Activate(index);
            ReleaseHeld(slot);
        }
    }

    private void DropHeldUnlessBuilding()
    {
        if (!AnyBuilding())
        {
            DropHeld();
        }
    }

    private static void Fail(StackSlot slot, Exception error, long now)
    {
        slot.State = SlotState.Failed;
        slot.FailedAt = now;
        slot.LastError = error.GetBaseException().Message;
        Interlocked.Increment(ref slot.Runtime.OpenFailures);
    }

    private static void Close(StackSlot slot, string reason, long now)
    {
        slot.Detach();
        slot.State = SlotState.Failed;
        slot.FailedAt = now - RetryAfterFailureMs;
        slot.LastError = reason;
    }

    /// <summary>Called by a slot, on the stack's receive thread: reverse NAT and hand the reply to the application.</summary>
    public void DeliverReply(ReadOnlySpan<byte> payload)
    {
        Interlocked.Increment(ref RepliesDelivered);
        if (_rule.Fallback is not null)
        {
            Volatile.Write(ref _lastReplyAt, Environment.TickCount64);
        }

        _replies.Write(_key, payload);
    }

    public void Dispose()
    {
        DropHeld();
        foreach (StackSlot slot in _slots)
        {
            slot.Detach();
            slot.State = SlotState.NotBuilt;
        }
    }
}
