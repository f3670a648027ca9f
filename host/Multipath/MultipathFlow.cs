using System.Diagnostics;
using System.Globalization;
using VirtualStack.Contracts.Flows;
using VirtualStack.Contracts.Measurements;
using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Configuration;

namespace VirtualStack.Host.Multipath;

/// <summary>
/// One application flow over a multipath rule: a <see cref="PathFlow"/> per path, each with its own stack flow to
/// its own far end. <see cref="Send"/> picks the path of each packet with the rule's scheduler among the paths that
/// are up (or sends on all of them: Redundant); every <see cref="CheckIntervalMs"/> it also re-decides the paths'
/// health, rebuilds faulted stack flows, carries out migrations (make before break: the old stack flow carries the
/// path until the new one is built) and sends probes on paths that are out.
/// </summary>
/// <remarks>
/// Everything but the reply sinks runs on the pipeline thread (Send, and management work that the control plane
/// runs there), so the path state needs no lock. Nothing here allocates per packet: the arrays are the flow's own.
/// </remarks>
internal sealed class MultipathFlow : IStackFlow
{
    public const long CheckIntervalMs = 10;
    private const long RetryAfterFailureMs = 500;
    private const long MeasureIntervalMs = 200;

    private readonly MultipathStack _stack;
    private readonly FlowKey _key;
    private readonly IReplySink _replies;
    private readonly PathFlow[] _paths;
    private readonly int[] _weights;
    private readonly int[] _credit;
    private readonly bool[] _up;
    private readonly double[] _rtt;
    private readonly SequenceTagger? _tagger;
    private long _nextCheck;
    private long _nextMeasure;
    private int _upCount;
    private bool _disposed;
    private string? _keyText;

    public MultipathFlow(MultipathStack stack, FlowKey key, IReplySink replies)
    {
        _stack = stack;
        _key = key;
        _replies = replies;
        _paths = new PathFlow[stack.Paths.Length];
        _weights = new int[_paths.Length];
        _credit = new int[_paths.Length];
        _up = new bool[_paths.Length];
        _rtt = new double[_paths.Length];
        _tagger = stack.SequenceTag ? new SequenceTagger(SequenceTag.NewFlowId()) : null;
        for (int i = 0; i < _paths.Length; i++)
        {
            _paths[i] = new PathFlow(this, stack.Paths[i], i);
            _weights[i] = stack.Paths[i].Weight;
        }

        // Build every path now (on the pipeline thread, where the engine opens this flow): a connection-oriented
        // path (DCCP) starts its handshake while the others already carry the flow.
        long now = Environment.TickCount64;
        foreach (PathFlow path in _paths)
        {
            Open(path, path.Definition.Target(key.DestinationEndpoint), now);
        }

        Check(now);
    }

    public IReadOnlyList<PathFlow> Paths => _paths;

    public MultipathStack Stack => _stack;

    public StackFlowStats Stats { get; } = new();

    /// <summary>The flow's sequence tag (rule option SequenceTag), else null.</summary>
    public SequenceTagger? Tagger => _tagger;

    /// <summary>Paths up at the last check.</summary>
    public int UpCount => _upCount;

    private string KeyText => _keyText ??= _key.ToString();

    public DropReason Send(ReadOnlySpan<byte> packet, in PacketInfo original)
    {
        if (_disposed)
        {
            return DropReason.ShuttingDown;
        }

        // With a sequence tag every path (and probe) sends the tagged payload: one tag, written once, in place.
        PacketInfo info = original;
        if (_tagger is not null && !_tagger.TryTag(packet, ref info))
        {
            Stats.SendErrors++;
            return DropReason.Unsupported;
        }

        long now = Environment.TickCount64;
        if (now >= _nextCheck)
        {
            Check(now);
        }

        DropReason result = DropReason.StackNotReady;
        switch (_stack.Scheduler)
        {
            case PathScheduler.Redundant:
                for (int i = 0; i < _paths.Length; i++)
                {
                    if (_up[i] && SendOn(_paths[i], packet, info, now) == DropReason.None)
                    {
                        result = DropReason.None;
                    }
                }

                break;
            case PathScheduler.LowestRtt:
                result = SendOnChosen(PathScheduling.PickLowestRtt(_rtt, _up), packet, info, now);
                break;
            default:
                result = SendOnChosen(PathScheduling.PickWeighted(_credit, _weights, _up), packet, info, now);
                break;
        }

        // Probes: a copy of this packet on each path that is out but could carry (link up, stack flow ready), at
        // most once per ProbeInterval, so that a reply tells the path is back. A UDP far end sees the copy as a
        // duplicate; only paths that are out are probed.
        if (_upCount < _paths.Length)
        {
            for (int i = 0; i < _paths.Length; i++)
            {
                PathFlow path = _paths[i];
                if (!_up[i] && path.Flow is not null && (path.Definition.Link?.Up ?? true) && now >= path.NextProbeAt)
                {
                    path.NextProbeAt = now + _stack.ProbeIntervalMs;
                    if (SendOn(path, packet, info, now) == DropReason.None)
                    {
                        path.Probes++;
                    }
                }
            }
        }

        if (result == DropReason.None)
        {
            Stats.PacketsSent++;
            Stats.BytesSent += original.PayloadLength;
        }
        else
        {
            Stats.SendErrors++;
        }

        return result;
    }

    private DropReason SendOnChosen(int chosen, ReadOnlySpan<byte> packet, in PacketInfo info, long now)
    {
        if (chosen < 0)
        {
            return DropReason.StackNotReady;
        }

        DropReason drop = SendOn(_paths[chosen], packet, info, now);
        if (drop == DropReason.None)
        {
            return drop;
        }

        // The chosen path refused it (e.g. a full DCCP send queue): any other path that is up takes it.
        for (int i = 0; i < _paths.Length; i++)
        {
            if (i != chosen && _up[i] && SendOn(_paths[i], packet, info, now) == DropReason.None)
            {
                return DropReason.None;
            }
        }

        return drop;
    }

    private static DropReason SendOn(PathFlow path, ReadOnlySpan<byte> packet, in PacketInfo info, long now)
    {
        if (path.Flow is not { } flow)
        {
            return DropReason.StackNotReady;
        }

        DropReason drop = flow.Send(packet, info);
        if (drop != DropReason.None)
        {
            path.Drops++;
            path.Definition.Runtime.Drops++;
            return drop;
        }

        path.PacketsSent++;
        path.BytesSent += info.PayloadLength;
        path.Definition.Runtime.PacketsSent++;
        path.Definition.Runtime.BytesSent += info.Length;
        path.Health.OnSend(now);
        path.TimeSend(packet, info);
        return DropReason.None;
    }

    /// <summary>A reply on one of the paths: to the application, as from what it addressed (the engine's NAT view).</summary>
    public void DeliverReply(ReadOnlySpan<byte> payload)
    {
        if (_tagger is not null && !_tagger.TryAccept(payload, out payload))
        {
            return; // a copy of a reply that came on another path first
        }

        Interlocked.Increment(ref Stats.PacketsReceived);
        Interlocked.Add(ref Stats.BytesReceived, payload.Length);
        _replies.Deliver(payload);
    }

    /// <summary>
    /// Moves <paramref name="path"/> (or every path: -1) to <paramref name="to"/> at the next packet: a new stack
    /// flow to the new far end is built while the old one keeps carrying the path. Pipeline thread.
    /// </summary>
    public void Retarget(int path, NetEndpoint to)
    {
        for (int i = 0; i < _paths.Length; i++)
        {
            if (path < 0 || path == i)
            {
                _paths[i].RetargetTo = to;
            }
        }

        _nextCheck = 0;
    }

    /// <summary>Health, builds, migrations, measurements. Pipeline thread, every <see cref="CheckIntervalMs"/> at most.</summary>
    internal void Check(long now)
    {
        _nextCheck = now + CheckIntervalMs;
        bool measure = now >= _nextMeasure;
        if (measure)
        {
            _nextMeasure = now + MeasureIntervalMs;
        }

        foreach (PathFlow path in _paths)
        {
            Maintain(path, now, measure);
        }

        int up = 0;
        for (int i = 0; i < _paths.Length; i++)
        {
            PathFlow path = _paths[i];
            bool othersAnswer = false;
            for (int j = 0; j < _paths.Length; j++)
            {
                othersAnswer |= j != i && _paths[j].Health.Answering(now, _stack.DownAfterMs);
            }

            path.ObserveSends();
            string? problem = path.Flow is null ? path.LastError ?? "being built" : null;
            bool wasEverUp = path.Health.EverUp;
            if (path.Health.Evaluate(now, path.Definition.Link?.Up ?? true, problem, othersAnswer, _stack.DownAfterMs) && wasEverUp)
            {
                // Once per transition, never per packet.
                _stack.Log(path.Health.Up
                    ? $"rule {_stack.Rule}: flow {KeyText}: path {path.Definition.Name} is back (down {now - path.Health.DownSince} ms)"
                    : $"rule {_stack.Rule}: flow {KeyText}: path {path.Definition.Name} taken out: {path.Health.Reason}");
            }

            _up[i] = path.Health.Up;
            _rtt[i] = path.RttForChoice(now);
            up += _up[i] ? 1 : 0;
        }

        _upCount = up;
    }

    private void Maintain(PathFlow path, long now, bool measure)
    {
        if (path.PendingFault is { } fault)
        {
            path.ClearFault();
            path.Faults++;
            path.LastError = fault;
            IStackFlow? dead = path.Flow;
            path.Flow = null;
            dead?.Dispose();
            path.RetryAt = now + RetryAfterFailureMs;
        }

        if (path.Opening is { IsCompleted: true } opening)
        {
            path.Opening = null;
            Completed(path, opening, now);
        }

        if (path.Opening is null)
        {
            if (path.RetargetTo is { } to)
            {
                path.RetargetTo = null;
                Open(path, to, now);
            }
            else if (path.Flow is null && now >= path.RetryAt)
            {
                Open(path, path.Definition.Target(_key.DestinationEndpoint), now);
            }
        }

        if (measure && path.Flow is IMeasuredFlow measured)
        {
            try
            {
                if (measured.TryMeasure(out MeasurementValues values) && values.RttMs is { } rttMs and > 0)
                {
                    path.RttFromStack = true;
                    path.RttUs = rttMs * 1000;
                }
            }
            catch (Exception e)
            {
                path.LastError = $"measurement failed: {e.Message}";
            }
        }
    }

    private void Open(PathFlow path, NetEndpoint to, long now)
    {
        path.OpeningTo = to;
        path.OpeningSince = Stopwatch.GetTimestamp();
        ValueTask<IStackFlow> opening;
        try
        {
            opening = path.Definition.Runtime.Stack.Open(_key, to, path, CancellationToken.None);
        }
        catch (Exception e)
        {
            Failed(path, e, now);
            return;
        }

        if (opening.IsCompleted)
        {
            Completed(path, opening.AsTask(), now);
        }
        else
        {
            path.Opening = opening.AsTask();
        }
    }

    private void Completed(PathFlow path, Task<IStackFlow> opening, long now)
    {
        if (!opening.IsCompletedSuccessfully)
        {
            Failed(path, opening.Exception?.GetBaseException() ?? new OperationCanceledException(), now);
            return;
        }

        IStackFlow flow = opening.Result;
        if (_disposed)
        {
            flow.Dispose();
            return;
        }

        IStackFlow? old = path.Flow;
        bool moved = path.Builds > 0 && !path.OpeningTo.Equals(path.Remote);
        path.Flow = flow;
        path.Builds++;
        path.LastError = null;
        Interlocked.Increment(ref path.Definition.Runtime.FlowsOpened);
        if (moved)
        {
            path.Migrations++;
            _stack.Log(string.Create(CultureInfo.InvariantCulture,
                $"rule {_stack.Rule}: flow {KeyText}: path {path.Definition.Name} moved from {path.Remote} to {path.OpeningTo} (built in {Stopwatch.GetElapsedTime(path.OpeningSince).TotalMilliseconds:F1} ms)"));
        }

        path.Remote = path.OpeningTo;

        // Make before break: the old stack flow carried the path until this moment.
        old?.Dispose();
    }

    private void Failed(PathFlow path, Exception error, long now)
    {
        path.LastError = $"build failed: {error.GetBaseException().Message}";
        path.RetryAt = now + RetryAfterFailureMs;
        Interlocked.Increment(ref path.Definition.Runtime.OpenFailures);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (PathFlow path in _paths)
        {
            IStackFlow? flow = path.Flow;
            path.Flow = null;
            flow?.Dispose();
            if (path.Opening is { } opening)
            {
                // A build still running: whatever it yields is not wanted any more.
                _ = opening.ContinueWith(static t => t.Result.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            }
        }
    }
}
