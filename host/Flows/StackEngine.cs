using System.Diagnostics;
using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Rules;
using VirtualStack.Host.Stacks;

namespace VirtualStack.Host.Flows;

/// <summary>
/// A flow's stack engine: its application endpoint (the key, for rebuilding replies), its NAT, and its stacks,
/// each built once and cached. Switching stacks changes which cached slot is active (make before break): a slot
/// that is not ready yet never takes packets, the flow keeps using the one it had.
/// </summary>
internal sealed class StackEngine : IDisposable
{
    private const long RetryAfterFailureMs = 1000;

    private readonly FlowKey _key;
    private readonly Rule _rule;
    private readonly StackSlot[] _slots;
    private readonly IReplyWriter _replies;
    private int _active = -1;

    public StackEngine(FlowKey key, Rule rule, IReplyWriter replies)
    {
        _key = key;
        _rule = rule;
        _replies = replies;
        _slots = new StackSlot[rule.Stacks.Length];
        for (int i = 0; i < _slots.Length; i++)
        {
            _slots[i] = new StackSlot(this, rule.Stacks[i]);
        }
    }

    public IReadOnlyList<StackSlot> Slots => _slots;

    /// <summary>Index of the slot carrying the flow now, -1 before the first packet.</summary>
    public int Active => _active;

    public long Switches { get; private set; }

    public long RepliesDelivered;

    /// <summary>
    /// The slot that carries the next packet: the one the decision wants when it is ready (building it on first use),
    /// else the active one while the wanted one is being built, else null (nothing ready yet).
    /// </summary>
    public StackSlot? Route(int wanted, long now)
    {
        if ((uint)wanted >= (uint)_slots.Length)
        {
            wanted = 0;
        }

        StackSlot target = _slots[wanted];
        if (target.PendingFault is { } fault)
        {
            // The stack reported the connection dead: close it; it is rebuilt when traffic goes on.
            target.ClearFault();
            Close(target, fault, now);
        }

        if (target.State is SlotState.NotBuilt || (target.State is SlotState.Failed && now - target.FailedAt >= RetryAfterFailureMs))
        {
            Build(target, now);
        }

        if (target.State is SlotState.Ready)
        {
            if (_active != wanted)
            {
                if (_active >= 0)
                {
                    Switches++;
                }

                _active = wanted;
            }

            return target;
        }

        // Make before break: keep the current stack until the wanted one is ready.
        return _active >= 0 && _slots[_active].State is SlotState.Ready ? _slots[_active] : null;
    }

    private void Build(StackSlot slot, long now)
    {
        NetEndpoint remote = _rule.Nat is { } nat ? nat.Resolve(_key, slot.Runtime.Name) : _key.DestinationEndpoint;
        slot.Remote = remote;
        slot.State = SlotState.Building;
        slot.BuildStarted = Stopwatch.GetTimestamp();
        ValueTask<IStackFlow> opening;
        try
        {
            opening = slot.Runtime.Stack.Open(_key, remote, slot, CancellationToken.None);
        }
        catch (Exception e)
        {
            Fail(slot, e, now);
            return;
        }

        if (opening.IsCompleted)
        {
            Complete(slot, opening, now);
        }
        else
        {
            _ = CompleteLater(slot, opening);
        }
    }

    private async Task CompleteLater(StackSlot slot, ValueTask<IStackFlow> opening)
    {
        try
        {
            // Runs on the shard's scheduler (TaskScheduler.Current), so slot state is only ever touched there.
            await opening;
        }
        catch (Exception)
        {
            // Observed through the ValueTask below.
        }

        Complete(slot, opening, Environment.TickCount64);
    }

    private void Complete(StackSlot slot, ValueTask<IStackFlow> opening, long now)
    {
        try
        {
            slot.Flow = opening.Result;
            slot.BuildTime = Stopwatch.GetElapsedTime(slot.BuildStarted);
            slot.State = SlotState.Ready;
            slot.LastError = null;
            Interlocked.Increment(ref slot.Runtime.FlowsOpened);
        }
        catch (Exception e)
        {
            Fail(slot, e, now);
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
        slot.Flow?.Dispose();
        slot.Flow = null;
        slot.State = SlotState.Failed;
        slot.FailedAt = now - RetryAfterFailureMs;
        slot.LastError = reason;
    }

    /// <summary>Called by a slot, on the stack's receive thread: reverse NAT and hand the reply to the application.</summary>
    public void DeliverReply(ReadOnlySpan<byte> payload)
    {
        Interlocked.Increment(ref RepliesDelivered);
        _replies.Write(_key, payload);
    }

    public void Dispose()
    {
        foreach (StackSlot slot in _slots)
        {
            slot.Flow?.Dispose();
            slot.Flow = null;
            slot.State = SlotState.NotBuilt;
        }
    }
}
