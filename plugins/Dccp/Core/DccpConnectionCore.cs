using VirtualStack.Contracts.Net;
using VirtualStack.Plugins.Dccp.Ccid2;
using VirtualStack.Plugins.Dccp.Protocol;

namespace VirtualStack.Plugins.Dccp.Core;

/// <summary>Why <see cref="DccpConnectionCore.TrySend"/> refused a datagram.</summary>
internal enum DccpSendStatus
{
    Queued,
    QueueFull,
    TooBig,
    NotConnected,
}

/// <summary>
/// One DCCP connection as a sans-IO state machine (RFC 4340 §8, the event processing of §8.5 Steps 4-16; Steps 1-3
/// live in <see cref="DccpDemux"/>). It is driven by <see cref="OnPacket"/>, <see cref="OnTimer"/> and the
/// application calls, all with the current time in microseconds, and emits packets through the context's output.
/// Not thread-safe: the owner serializes every call.
/// </summary>
internal sealed class DccpConnectionCore
{
    private const long MaxBackoffUs = 64_000_000;

    private readonly DccpCoreContext _ctx;
    private readonly DccpProtocolOptions _options;
    private readonly DatagramQueue _sendQueue;
    private readonly DatagramQueue _receiveQueue;

    // Sequence number variables (§7.1).
    private ulong _gss;
    private ulong _gsr;
    private ulong _gar;
    private ulong _isr;
    private ulong _osr;
    private bool _synchronized; // ISR/GSR known

    private ulong _lastAckSent; // the GSR the last acknowledgement carried
    private ulong _openAckSeq; // server: our first packet after OPEN, until the client acknowledges it
    private bool _ackedSinceReceive = true;
    private int _dataSinceAck;
    private bool _ackNow;
    private long _ackAt = long.MaxValue;

    private long _retransmitAt = long.MaxValue;
    private long _retransmitInterval;
    private long _stateDeadline = long.MaxValue;
    private long _lastSentAt;
    private long _unansweredSince = long.MaxValue; // first data packet sent since the peer was last heard
    private bool _closeRequested;

    private bool _timestampEchoPending;
    private uint _timestampToEcho;
    private long _timestampReceivedAt;
    private byte[]? _initCookie;

    private long _syncWindowStart;
    private int _syncsInWindow;

    private long _packetsSent;
    private long _packetsReceived;
    private long _dataPacketsSent;
    private long _dataBytesSent;
    private long _dataPacketsReceived;
    private long _dataBytesReceived;
    private long _syncsSent;

    public DccpConnectionCore(DccpCoreContext context, bool isServer, NetAddress remoteAddress, ushort localPort, ushort remotePort, uint serviceCode, ulong iss)
    {
        _ctx = context;
        _options = context.Options;
        IsServer = isServer;
        RemoteAddress = remoteAddress;
        LocalPort = localPort;
        RemotePort = remotePort;
        ServiceCode = serviceCode;
        Iss = iss & SequenceNumber.Mask;
        _gss = SequenceNumber.Add(Iss, -1);
        _gar = Iss;
        Features = new FeatureNegotiator(isServer);
        Sender = new Ccid2Sender(context.MaxPayload, _options.MaxCongestionWindow, _options.InitialRto, _options.MinRto);
        Receiver = new AckVectorRecorder();
        _sendQueue = new DatagramQueue(_options.SendQueueCapacity);
        _receiveQueue = new DatagramQueue(_options.ReceiveQueueCapacity);
        if (_options.SequenceWindow != DccpFeatures.InitialValue((byte)DccpFeature.SequenceWindow))
        {
            Features.ChangeLocal(DccpFeature.SequenceWindow, _options.SequenceWindow);
        }
    }

    public bool IsServer { get; }

    public NetAddress RemoteAddress { get; }

    public ushort LocalPort { get; }

    public ushort RemotePort { get; }

    public uint ServiceCode { get; private set; }

    public ulong Iss { get; }

    public DccpState State { get; private set; } = DccpState.Closed;

    public FeatureNegotiator Features { get; }

    public Ccid2Sender Sender { get; }

    public AckVectorRecorder Receiver { get; }

    public DccpDropCounters Drops { get; } = new();

    public IDccpConnectionObserver? Observer { get; set; }

    /// <summary>The listener that created this server connection, until it is announced or dies half-open.</summary>
    public DccpListenerEntry? Listener { get; set; }

    /// <summary>The deadline under which the demultiplexer's timer queue holds this connection.</summary>
    public long ScheduledAt { get; set; } = long.MaxValue;

    /// <summary>The Reset code that ended the connection (received or sent), if one did.</summary>
    public DccpResetCode? ResetCode { get; private set; }

    /// <summary>True when the peer's Reset ended the connection (rather than ours).</summary>
    public bool ResetByPeer { get; private set; }

    /// <summary>A short reason once the connection is closed: "peer-closed", "closed", "reset by peer: Aborted", "connect timeout".</summary>
    public string? CloseReason { get; private set; }

    public int MaxPayload => _ctx.MaxPayload;

    public int ReceiveQueueCount => _receiveQueue.Count;

    public int SendQueueCount => _sendQueue.Count;

    public bool CanEnqueue => !_sendQueue.IsFull;

    /// <summary>True from OPEN (or client PARTOPEN) until a close starts: the application may send.</summary>
    public bool IsWritable => State is DccpState.Open or DccpState.PartOpen or DccpState.Request && !_closeRequested;

    /// <summary>The earliest time <see cref="OnTimer"/> has something to do.</summary>
    public long NextDeadline
    {
        get
        {
            long t = Math.Min(_retransmitAt, _stateDeadline);
            t = Math.Min(t, _ackAt);
            if (State is DccpState.Open or DccpState.PartOpen or DccpState.CloseReq or DccpState.Closing)
            {
                t = Math.Min(t, Sender.RtoDeadline);
                if (State >= DccpState.Open && Features.HasUnconfirmedChanges)
                {
                    t = Math.Min(t, _lastSentAt + Sender.RtoUs);
                }
            }

            t = Math.Min(t, DeadPeerDeadline);

            return t;
        }
    }

    /// <summary>
    /// When a peer that sent nothing since our oldest unanswered data packet is declared gone
    /// (<see cref="DccpProtocolOptions.DeadPeerTimeout"/>), or <see cref="long.MaxValue"/>.
    /// </summary>
    private long DeadPeerDeadline
    {
        get
        {
            long timeout = (long)_options.DeadPeerTimeout.TotalMicroseconds;
            if (timeout <= 0 || State is not (DccpState.Open or DccpState.PartOpen) || _unansweredSince == long.MaxValue)
            {
                return long.MaxValue;
            }

            return _unansweredSince + timeout;
        }
    }

    // ---------------------------------------------------------------- opening --

    /// <summary>Client side: sends the first Request (§8.1.1) with our feature preferences.</summary>
    public void Connect(long now)
    {
        Features.ChangeLocal(DccpFeature.Ccid);
        Features.ChangeRemote(DccpFeature.Ccid);
        Features.ChangeRemote(DccpFeature.SendAckVector); // CCID 2 frees its window only from Ack Vectors
        SetState(DccpState.Request);
        _retransmitInterval = (long)_options.RequestRetransmitTimeout.TotalMicroseconds;
        _retransmitAt = now + _retransmitInterval;
        _stateDeadline = now + (long)_options.ConnectTimeout.TotalMicroseconds;
        SendControl(DccpPacketType.Request, now);
    }

    /// <summary>
    /// Server side, §8.5 Step 3: a Request for a listening port created this connection. Processes its options and
    /// answers with a Response (Step 11). Returns false when the Request was refused (a Reset was sent).
    /// </summary>
    public bool AcceptRequest(in DccpPacket request, long now)
    {
        _isr = _gsr = request.SequenceNumber;
        _synchronized = true;
        ServiceCode = request.ServiceCode;
        Receiver.Record(request.SequenceNumber);
        _packetsReceived++;
        SetState(DccpState.Respond);
        Features.ChangeRemote(DccpFeature.SendAckVector);
        DccpResetCode? error = ProcessOptions(request, now, out _, out _);
        if (error is { } code)
        {
            SendReset(code, now);
            Terminate(DccpState.Closed, "refused: " + code, now);
            return false;
        }

        _stateDeadline = now + (long)_options.RespondTimeout.TotalMicroseconds;
        SendControl(DccpPacketType.Response, now);
        return true;
    }

    // --------------------------------------------------------------- receiving --

    /// <summary>
    /// Processes a packet for this connection (header and checksum already checked, §8.5 Step 1; the packet is for
    /// this port pair, Step 2). Runs Steps 4-16.
    /// </summary>
    public void OnPacket(in DccpPacket packet, long now)
    {
        if (State is DccpState.Closed or DccpState.TimeWait)
        {
            return;
        }

        DccpPacketType type = packet.Type;
        ulong seqno = packet.SequenceNumber;
        ulong ackno = packet.AcknowledgementNumber;
        if (!packet.IsExtended)
        {
            // §7.6: 24-bit numbers only when this endpoint allows them; extended against GSR and GSS.
            if (Features.Local(DccpFeature.AllowShortSeqnos) == 0 || !_synchronized)
            {
                Drop(DccpDropReason.ShortSequenceNumber);
                return;
            }

            seqno = SequenceNumber.ExtendShort((uint)seqno, _gsr);
            ackno = SequenceNumber.ExtendShort((uint)ackno, _gss);
        }

        // Step 4: prepare sequence numbers in REQUEST.
        if (State == DccpState.Request)
        {
            if (type is not (DccpPacketType.Response or DccpPacketType.Reset))
            {
                // The RFC answers with Reset(Packet Error); we only drop, so that a forged packet cannot abort a
                // connection attempt (the genuine server never sends anything but Response or Reset here).
                Drop(DccpDropReason.UnexpectedType);
                return;
            }

            if (!InAckWindow(ackno))
            {
                Drop(type == DccpPacketType.Reset ? DccpDropReason.ResetOutOfWindow : DccpDropReason.AckOutOfWindow);
                return;
            }

            _isr = _gsr = seqno;
            _synchronized = true;
        }

        // Step 5: prepare sequence numbers for Sync.
        if (type is DccpPacketType.Sync or DccpPacketType.SyncAck)
        {
            if (!InAckWindow(ackno) || SequenceNumber.Before(seqno, Swl))
            {
                Drop(DccpDropReason.SyncInvalid);
                return;
            }

            _gsr = seqno; // after this update P passes Step 6; a SyncAck follows in Step 15
        }

        // Step 6: check sequence numbers (§7.5.3).
        bool closeLike = type is DccpPacketType.CloseReq or DccpPacketType.Close or DccpPacketType.Reset;
        ulong lswl = closeLike ? SequenceNumber.Add(_gsr, 1) : Swl;
        ulong lawl = closeLike ? _gar : Awl;
        if (State == DccpState.Request && type is DccpPacketType.Response or DccpPacketType.Reset)
        {
            lswl = _gsr; // Step 4 just set GSR to this packet's number
        }

        bool seqOk = SequenceNumber.InRange(seqno, lswl, Swh) || (type is DccpPacketType.Sync or DccpPacketType.SyncAck);
        bool ackOk = !packet.HasAck || SequenceNumber.InRange(ackno, lawl, Awh);
        if (!seqOk || !ackOk)
        {
            if (type == DccpPacketType.Reset)
            {
                Drop(DccpDropReason.ResetOutOfWindow);
                SendSync(_gsr, now);
            }
            else
            {
                Drop(seqOk ? DccpDropReason.AckOutOfWindow : DccpDropReason.SequenceOutOfWindow);
                if (type is not (DccpPacketType.Sync or DccpPacketType.SyncAck))
                {
                    SendSync(seqno, now);
                }
            }

            return;
        }

        _gsr = SequenceNumber.Max(_gsr, seqno);
        if (packet.HasAck && type != DccpPacketType.Sync)
        {
            _gar = SequenceNumber.Max(_gar, ackno);
        }

        // Step 7: check for unexpected packet types.
        if ((IsServer && type is DccpPacketType.CloseReq or DccpPacketType.Response)
            || (!IsServer && type == DccpPacketType.Request)
            || (State >= DccpState.Open && type is DccpPacketType.Request or DccpPacketType.Response && !SequenceNumber.Before(seqno, _osr))
            || (State == DccpState.Respond && type == DccpPacketType.Data))
        {
            Drop(DccpDropReason.UnexpectedType);
            SendSync(seqno, now);
            return;
        }

        // Step 8: process options and mark acknowledgeable.
        _packetsReceived++;
        _unansweredSince = long.MaxValue;
        bool fresh = Receiver.Record(seqno);
        DccpResetCode? optionError = ProcessOptions(packet, now, out ReadOnlySpan<byte> ackVector, out bool dataChecksumBad);
        if (optionError is { } code)
        {
            SendReset(code, now);
            Terminate(DccpState.Closed, "option error: " + code, now);
            return;
        }

        if (packet.HasAck && type is not (DccpPacketType.Sync or DccpPacketType.SyncAck or DccpPacketType.Response))
        {
            Sender.OnAck(ackno, ackVector, ecnMarked: false, now);
            Receiver.OnAckOfAck(ackno);
            AdjustFeaturesToWindow();
        }

        // Step 9: process Reset.
        if (type == DccpPacketType.Reset)
        {
            ResetCode = packet.ResetCode;
            ResetByPeer = true;
            string reason = State is DccpState.Closing && packet.ResetCode == DccpResetCode.Closed
                ? "closed"
                : "reset by peer: " + packet.ResetCode;
            Terminate(DccpState.TimeWait, reason, now);
            return;
        }

        // Step 10: process REQUEST state (second part).
        if (State == DccpState.Request)
        {
            if (packet.ServiceCode != ServiceCode)
            {
                SendReset(DccpResetCode.BadServiceCode, now);
                Terminate(DccpState.Closed, "response with another service code", now);
                return;
            }

            SetState(DccpState.PartOpen);
            _retransmitInterval = (long)_options.PartOpenRetransmitTimeout.TotalMicroseconds;
            _retransmitAt = now + _retransmitInterval;
            _stateDeadline = now + (long)_options.PartOpenTimeout.TotalMicroseconds;
        }

        // Step 11: process RESPOND state.
        if (State == DccpState.Respond)
        {
            if (type == DccpPacketType.Request)
            {
                SendControl(DccpPacketType.Response, now); // the client retransmitted: answer again
                return;
            }

            if (type is DccpPacketType.Ack or DccpPacketType.DataAck)
            {
                _osr = seqno;
                _stateDeadline = long.MaxValue;
                SetState(DccpState.Open);
                // The client stays in PARTOPEN until it hears from us (§8.1.5); tell it at once rather than leave it
                // to retransmit its Ack on a timer.
                _ackNow = true;
                _openAckSeq = SequenceNumber.Add(_gss, 1);
            }
        }
        else if (IsServer && State == DccpState.Open && type == DccpPacketType.Ack && _openAckSeq != 0
                 && SequenceNumber.Before(ackno, _openAckSeq))
        {
            _ackNow = true; // a PARTOPEN retransmission: the client has not seen our Ack yet
        }
        else if (IsServer && _openAckSeq != 0 && !SequenceNumber.Before(ackno, _openAckSeq))
        {
            _openAckSeq = 0; // the client is OPEN
        }

        // Step 12: process PARTOPEN state.
        if (State == DccpState.PartOpen)
        {
            if (type == DccpPacketType.Response)
            {
                SendAck(now); // completes the handshake
            }
            else if (type is not (DccpPacketType.Sync or DccpPacketType.SyncAck))
            {
                _osr = seqno;
                _retransmitAt = long.MaxValue;
                _stateDeadline = long.MaxValue;
                _initCookie = null;
                SetState(DccpState.Open);
            }
        }

        // Step 13: process CloseReq.
        if (type == DccpPacketType.CloseReq && State < DccpState.CloseReq)
        {
            StartClosing(now);
        }

        // Step 14: process Close.
        if (type == DccpPacketType.Close)
        {
            SendReset(DccpResetCode.Closed, now);
            Terminate(DccpState.Closed, "peer-closed", now);
            return;
        }

        // Step 15: process Sync.
        if (type == DccpPacketType.Sync)
        {
            SendPacket(DccpPacketType.SyncAck, default, now, ackOverride: seqno);
        }

        // Step 16: process data.
        if (type is DccpPacketType.Data or DccpPacketType.DataAck && State >= DccpState.PartOpen)
        {
            if (!fresh)
            {
                Drop(DccpDropReason.Duplicate);
            }
            else if (dataChecksumBad)
            {
                Drop(DccpDropReason.BadDataChecksum);
            }
            else if (_receiveQueue.Count == 0 && Observer is { } observer && observer.TryDeliver(packet.Payload))
            {
                // A relay took it straight from the packet: two copies fewer, order kept (nothing was queued).
                _dataPacketsReceived++;
                _dataBytesReceived += packet.Payload.Length;
            }
            else if (!_receiveQueue.TryEnqueue(packet.Payload))
            {
                Drop(DccpDropReason.ReceiveQueueFull);
            }
            else
            {
                _dataPacketsReceived++;
                _dataBytesReceived += packet.Payload.Length;
                Observer?.OnReadable();
            }

            // RFC 4341 §6.1: acknowledge every Ack Ratio data packets, the rest after a short delay.
            _dataSinceAck++;
            if (_dataSinceAck >= (int)Math.Max(1, Features.Remote(DccpFeature.AckRatio)))
            {
                _ackNow = true;
            }
            else if (_ackAt == long.MaxValue)
            {
                _ackAt = now + (long)_options.DelayedAckTimeout.TotalMicroseconds;
            }
        }

        _ackedSinceReceive = false;
        if (Features.HasPendingConfirms && _ackAt == long.MaxValue)
        {
            // A Confirm is owed (§6.6.2): it rides the next acknowledgement, which comes within the delayed-ack time.
            // Not at once: the peer repeats its Change on every packet until it sees the Confirm, and answering each
            // one would acknowledge every packet for a whole round trip.
            _ackAt = now + (long)_options.DelayedAckTimeout.TotalMicroseconds;
        }

        Pump(now);
        if (_ackNow && State is DccpState.Open or DccpState.PartOpen or DccpState.CloseReq or DccpState.Closing)
        {
            SendAck(now);
        }
    }

    // ----------------------------------------------------------------- timers --

    /// <summary>Runs every timer that is due (§8.1.1 Request back-off, §8.1.5 PARTOPEN, §8.3 Close, TIMEWAIT, delayed acks, CCID 2 RTO).</summary>
    public void OnTimer(long now)
    {
        if (now >= DeadPeerDeadline)
        {
            // Nothing came back for a whole timeout while our data waited: the peer is gone (crashed, restarted
            // without state, path down). Report it now rather than backing off for minutes; the owner reconnects.
            SendReset(DccpResetCode.Aborted, now);
            Terminate(DccpState.Closed, "peer not responding", now);
            return;
        }

        if (now >= _stateDeadline)
        {
            switch (State)
            {
                case DccpState.Request:
                    Terminate(DccpState.Closed, "connect timeout", now);
                    return;
                case DccpState.PartOpen:
                    SendReset(DccpResetCode.Aborted, now);
                    Terminate(DccpState.Closed, "handshake timeout", now);
                    return;
                case DccpState.Respond:
                    Terminate(DccpState.Closed, "handshake timeout", now);
                    return;
                case DccpState.TimeWait:
                    _stateDeadline = long.MaxValue;
                    SetState(DccpState.Closed);
                    return;
                case DccpState.Closing or DccpState.CloseReq:
                    Terminate(DccpState.Closed, "close timeout", now);
                    return;
            }
        }

        if (now >= _retransmitAt)
        {
            _retransmitInterval = Math.Min(_retransmitInterval * 2, MaxBackoffUs);
            _retransmitAt = now + _retransmitInterval;
            switch (State)
            {
                case DccpState.Request:
                    SendControl(DccpPacketType.Request, now); // a new sequence number every time (§8.1.1)
                    break;
                case DccpState.PartOpen:
                    SendAck(now);
                    break;
                case DccpState.Closing:
                    SendControl(DccpPacketType.Close, now);
                    break;
                case DccpState.CloseReq:
                    SendControl(DccpPacketType.CloseReq, now);
                    break;
                default:
                    _retransmitAt = long.MaxValue;
                    break;
            }
        }

        if (State is DccpState.Open or DccpState.PartOpen or DccpState.CloseReq or DccpState.Closing)
        {
            if (now >= Sender.RtoDeadline)
            {
                Sender.OnTimer(now);
                AdjustFeaturesToWindow();
            }

            if (now >= _ackAt)
            {
                SendAck(now);
            }
            else if (Features.HasUnconfirmedChanges && now - _lastSentAt >= Sender.RtoUs && State >= DccpState.Open)
            {
                SendAck(now); // carry the unconfirmed Changes again (§6.6.3)
            }

            Pump(now);
        }
    }

    // ------------------------------------------------------------ application --

    /// <summary>Queues one datagram and sends what the congestion window allows.</summary>
    public DccpSendStatus TrySend(ReadOnlySpan<byte> datagram, long now)
    {
        if (!IsWritable)
        {
            return DccpSendStatus.NotConnected;
        }

        if (datagram.Length > MaxPayload)
        {
            return DccpSendStatus.TooBig;
        }

        if (!_sendQueue.TryEnqueue(datagram))
        {
            return DccpSendStatus.QueueFull;
        }

        Pump(now);
        return DccpSendStatus.Queued;
    }

    /// <summary>Takes the oldest received datagram; returns its length (copying what fits) or -1 when none.</summary>
    public int TryReceive(Span<byte> destination) => _receiveQueue.Dequeue(destination);

    /// <summary>Length of the next received datagram, or -1.</summary>
    public int PeekReceiveLength => _receiveQueue.PeekLength;

    /// <summary>
    /// Starts a graceful close once everything queued is sent: a client sends Close (→ CLOSING, §8.3), a server
    /// CloseReq (→ CLOSEREQ) so that the client holds TIMEWAIT. Before the handshake completes it just aborts.
    /// </summary>
    public void Close(long now)
    {
        switch (State)
        {
            case DccpState.Request:
                Terminate(DccpState.Closed, "closed", now);
                return;
            case DccpState.Respond:
                SendReset(DccpResetCode.Closed, now);
                Terminate(DccpState.Closed, "closed", now);
                return;
            case DccpState.PartOpen or DccpState.Open:
                _closeRequested = true;
                Pump(now);
                return;
        }
    }

    /// <summary>Ends the connection at once with Reset(Aborted) (§5.6).</summary>
    public void Abort(long now)
    {
        if (State is DccpState.Closed or DccpState.TimeWait)
        {
            return;
        }

        if (_synchronized)
        {
            SendReset(DccpResetCode.Aborted, now);
        }

        Terminate(DccpState.Closed, "aborted", now);
    }

    /// <summary>Returns pooled buffers; the connection is finished with.</summary>
    public void Release()
    {
        _sendQueue.Clear();
        _receiveQueue.Clear();
    }

    public DccpConnectionStats GetStats() => new()
    {
        State = State,
        Cwnd = Sender.Cwnd,
        Ssthresh = Sender.Ssthresh,
        Pipe = Sender.Pipe,
        Rtt = TimeSpan.FromMicroseconds(Sender.SrttUs),
        Rto = TimeSpan.FromMicroseconds(Sender.RtoUs),
        MaxDatagramSize = MaxPayload,
        AckRatio = (int)Features.Local(DccpFeature.AckRatio),
        DataPacketsSent = _dataPacketsSent,
        DataBytesSent = _dataBytesSent,
        DataPacketsReceived = _dataPacketsReceived,
        DataBytesReceived = _dataBytesReceived,
        PacketsSent = _packetsSent,
        PacketsReceived = _packetsReceived,
        DataPacketsLost = Sender.Lost,
        CongestionEvents = Sender.CongestionEvents,
        Timeouts = Sender.Timeouts,
        SendQueueLength = _sendQueue.Count,
        ReceiveQueueLength = _receiveQueue.Count,
        SyncsSent = _syncsSent,
        Drops = Drops.Total,
    };

    // --------------------------------------------------------------- windows --

    // §7.5.1: W is Sequence Window/peer for the peer's sequence numbers, W' Sequence Window/local for its acks.
    private ulong Swl
    {
        get
        {
            ulong w = Features.Remote(DccpFeature.SequenceWindow);
            ulong swl = SequenceNumber.Add(_gsr, 1 - (long)(w / 4));
            return SequenceNumber.Before(swl, _isr) && SequenceNumber.Delta(_gsr, _isr) >= 0 ? _isr : swl;
        }
    }

    private ulong Swh => SequenceNumber.Add(_gsr, (long)((3 * Features.Remote(DccpFeature.SequenceWindow)) + 3) / 4);

    private ulong Awl
    {
        get
        {
            // Our own check: a larger window we proposed applies at once, before the peer confirms it.
            ulong w = Features.LocalOrProposed(DccpFeature.SequenceWindow);
            ulong awl = SequenceNumber.Add(_gss, 1 - (long)w);
            return SequenceNumber.Before(awl, Iss) && SequenceNumber.Delta(_gss, Iss) >= 0 ? Iss : awl;
        }
    }

    private ulong Awh => _gss;

    private bool InAckWindow(ulong ackno) => SequenceNumber.InRange(ackno, Awl, Awh);

    // --------------------------------------------------------------- options --

    private DccpResetCode? ProcessOptions(in DccpPacket packet, long now, out ReadOnlySpan<byte> ackVector, out bool dataChecksumBad)
    {
        ackVector = default;
        dataChecksumBad = false;
        bool onData = packet.Type == DccpPacketType.Data;
        bool mandatory = false;
        var options = packet.EnumerateOptions();
        while (options.MoveNext())
        {
            DccpOption option = options.Current;
            bool wasMandatory = mandatory;
            mandatory = false;
            if (option.Type == (byte)DccpOptionType.Padding)
            {
                if (wasMandatory)
                {
                    return DccpResetCode.OptionError;
                }

                continue;
            }

            if (option.Type == (byte)DccpOptionType.Mandatory)
            {
                if (wasMandatory)
                {
                    return DccpResetCode.OptionError; // Mandatory Mandatory (§5.8.2)
                }

                mandatory = !onData;
                continue;
            }

            if (onData && !DccpOptionTypes.AllowedOnData(option.Type))
            {
                continue; // ignored on Data packets (§5.8 table)
            }

            if (!option.HasValidLength)
            {
                return DccpResetCode.OptionError;
            }

            switch ((DccpOptionType)option.Type)
            {
                case DccpOptionType.SlowReceiver:
                    Sender.OnSlowReceiver(now);
                    break;
                case DccpOptionType.ChangeL or DccpOptionType.ChangeR:
                    DccpOptionValues.TryReadFeature(option.Data, out byte cf, out ReadOnlySpan<byte> cv);
                    if (Features.OnChange((DccpOptionType)option.Type, cf, cv, wasMandatory) is { } changeError)
                    {
                        return changeError;
                    }

                    break;
                case DccpOptionType.ConfirmL or DccpOptionType.ConfirmR:
                    DccpOptionValues.TryReadFeature(option.Data, out byte ff, out ReadOnlySpan<byte> fv);
                    if (Features.OnConfirm((DccpOptionType)option.Type, ff, fv) is { } confirmError)
                    {
                        return confirmError;
                    }

                    break;
                case DccpOptionType.InitCookie:
                    if (packet.Type == DccpPacketType.Response)
                    {
                        _initCookie = option.Data.ToArray(); // echoed on every packet in PARTOPEN (§8.1.4)
                    }

                    break;
                case DccpOptionType.AckVector0 or DccpOptionType.AckVector1:
                    if (ackVector.IsEmpty)
                    {
                        ackVector = option.Data;
                    }

                    break;
                case DccpOptionType.Timestamp:
                    DccpOptionValues.TryReadTimestamp(option.Data, out _timestampToEcho);
                    _timestampReceivedAt = now;
                    _timestampEchoPending = true;
                    break;
                case DccpOptionType.DataChecksum:
                    if (Features.Local(DccpFeature.CheckDataChecksum) == 1
                        && DccpOptionValues.TryReadDataChecksum(option.Data, out uint crc) && crc != Crc32C.Compute(packet.Payload))
                    {
                        dataChecksumBad = true;
                    }

                    break;
                case DccpOptionType.NdpCount or DccpOptionType.DataDropped or DccpOptionType.TimestampEcho or DccpOptionType.ElapsedTime:
                    break; // understood; CCID 2 needs none of them
                default:
                    if (wasMandatory)
                    {
                        return DccpResetCode.MandatoryError; // a Mandatory option we do not understand (§5.8.2)
                    }

                    break;
            }
        }

        return mandatory ? DccpResetCode.OptionError : null; // Mandatory as the last option
    }

    private void AdjustFeaturesToWindow()
    {
        if (State < DccpState.Open)
        {
            return;
        }

        // Ack Ratio (RFC 4341 §6.1.2): never more than ceil(cwnd/2), so a small window still sees acknowledgements,
        // but raised with the window (about cwnd/8) so the peer sends few acks per round trip. Each of its acks
        // advances its GSS, and our next acknowledgement must still fall inside its ack window of Sequence
        // Window/peer packets (§7.5.1) — Linux keeps that at 100 as a receiver, which a window of acks at ratio 2
        // overruns (seen as "Step 6 failed ... LAWL" drops of our DataAcks against the kernel).
        int cwnd = Sender.Cwnd;
        ulong most = (ulong)Math.Max(1, (cwnd + 1) / 2);
        ulong target = Math.Min(most, (ulong)Math.Max(2, cwnd / 8));
        ulong ratio = Features.LocalOrProposed(DccpFeature.AckRatio);
        if ((ratio > most || target >= ratio * 2 || target * 4 <= ratio) && target != ratio)
        {
            Features.ChangeLocal(DccpFeature.AckRatio, target);
        }

        // Sequence Window/local bounds both the peer's check of our sequence numbers and our check of its
        // acknowledgements (§7.5.1). Keep it at least 5 × cwnd (as Linux's CCID 2 does) and at least 3 × the span of
        // our packets not yet acknowledged (GSS - GAR: a receiver sending many Acks per RTT needs it as much as a
        // sender), so that a window's worth of packets in flight, or lost, never falls outside it. It only grows.
        ulong window = Features.LocalOrProposed(DccpFeature.SequenceWindow);
        ulong inFlight = (ulong)Math.Max(0, SequenceNumber.Delta(_gss, _gar));
        ulong needed = Math.Max((ulong)Sender.Cwnd * 5, inFlight * 3);
        if (needed > window)
        {
            Features.ChangeLocal(DccpFeature.SequenceWindow, Math.Min(Math.Max(window * 2, needed), (1UL << 46) - 1));
        }
    }

    // ---------------------------------------------------------------- sending --

    private void Pump(long now)
    {
        while (_sendQueue.Count > 0 && State is DccpState.Open or DccpState.PartOpen)
        {
            if (!Sender.CanSend)
            {
                Sender.NoteWindowLimited();
                break;
            }

            // Data carries no acknowledgement nor Change/Confirm; use DataAck whenever there is something to
            // acknowledge, options to carry, or we are in PARTOPEN (§8.1.5).
            bool needsAck = State == DccpState.PartOpen || !_ackedSinceReceive || Features.HasPendingOptions || _ackNow;
            SendPacket(needsAck ? DccpPacketType.DataAck : DccpPacketType.Data, _sendQueue.Peek(), now);
            _sendQueue.Drop();
            if (_sendQueue.Count == _sendQueue.Capacity - 1 || _sendQueue.Count == 0)
            {
                Observer?.OnWritable();
            }
        }

        if (_closeRequested && _sendQueue.Count == 0 && State is DccpState.Open or DccpState.PartOpen)
        {
            StartClosing(now);
        }
    }

    private void StartClosing(long now)
    {
        _closeRequested = false;
        _sendQueue.Clear();
        _retransmitInterval = (long)_options.CloseRetransmitTimeout.TotalMicroseconds;
        _retransmitAt = now + _retransmitInterval;
        _stateDeadline = now + (long)_options.CloseTimeout.TotalMicroseconds;
        if (IsServer && State != DccpState.CloseReq)
        {
            SetState(DccpState.CloseReq);
            SendControl(DccpPacketType.CloseReq, now);
        }
        else
        {
            SetState(DccpState.Closing);
            SendControl(DccpPacketType.Close, now);
        }
    }

    private void SendAck(long now)
    {
        if (State == DccpState.Respond || !_synchronized)
        {
            return;
        }

        SendPacket(DccpPacketType.Ack, default, now);
    }

    private void SendControl(DccpPacketType type, long now) => SendPacket(type, default, now);

    private void SendReset(DccpResetCode code, long now)
    {
        ResetCode = code;
        SendPacket(DccpPacketType.Reset, default, now, resetCode: code);
    }

    private void SendSync(ulong ackno, long now)
    {
        // §7.5.4: Syncs are rate limited (at most 8 a second) so that floods of bad packets cannot make us flood.
        if (now - _syncWindowStart >= 1_000_000)
        {
            _syncWindowStart = now;
            _syncsInWindow = 0;
        }

        if (++_syncsInWindow > _options.SyncsPerSecond)
        {
            Drop(DccpDropReason.SyncRateLimited);
            return;
        }

        _syncsSent++;
        SendPacket(DccpPacketType.Sync, default, now, ackOverride: ackno);
    }

    private void SendPacket(DccpPacketType type, ReadOnlySpan<byte> payload, long now, ulong? ackOverride = null, DccpResetCode resetCode = DccpResetCode.Unspecified)
    {
        _gss = SequenceNumber.Add(_gss, 1);
        ulong seq = _gss;
        bool hasAck = DccpPacketTypes.HasAck(type);
        ulong ackno = ackOverride ?? _gsr;
        var header = new DccpHeader
        {
            SourcePort = LocalPort,
            DestinationPort = RemotePort,
            Type = type,
            SequenceNumber = seq,
            AcknowledgementNumber = ackno,
            ServiceCode = ServiceCode,
            ResetCode = resetCode,
        };

        var w = new DccpPacketWriter(_ctx.Scratch);
        w.WriteHeader(header);
        bool control = type is DccpPacketType.Reset or DccpPacketType.Sync or DccpPacketType.SyncAck or DccpPacketType.Close or DccpPacketType.CloseReq;
        if (type != DccpPacketType.Data && !control)
        {
            Features.WriteOptions(ref w);
            if (_initCookie is not null && State == DccpState.PartOpen)
            {
                w.TryAddInitCookie(_initCookie);
            }
        }

        if (_timestampEchoPending && type is not (DccpPacketType.Request or DccpPacketType.Reset))
        {
            // Timestamp Echo with the time we held it, in 10 us units (§13.3).
            w.TryAddTimestampEcho(_timestampToEcho, (uint)Math.Min(uint.MaxValue, (now - _timestampReceivedAt) / 10));
            _timestampEchoPending = false;
        }

        if (_receiveQueue.Count > _receiveQueue.Capacity * 3 / 4)
        {
            w.TryAddOption(DccpOptionType.SlowReceiver); // §11.6
        }

        bool isData = type is DccpPacketType.Data or DccpPacketType.DataAck;
        if (isData && Features.Remote(DccpFeature.CheckDataChecksum) == 1)
        {
            w.TryAddDataChecksum(payload);
        }

        if (hasAck && ackOverride is null && type is not (DccpPacketType.Response or DccpPacketType.Request) && Receiver.HasData)
        {
            // Ack Vector for GSR (RFC 4341 §6: the HC-Receiver sends them; a CCID 2 sender frees its window only from
            // them). It takes whatever room the payload leaves, never more than one option.
            int room = _ctx.MaxPacketSize - w.Length - payload.Length - 3 - 2;
            if (room > 0)
            {
                Span<byte> vector = w.BeginOption((byte)DccpOptionType.AckVector0, room);
                int n = Receiver.Encode(vector);
                w.EndOption(n);
                Receiver.OnVectorSent(seq, Receiver.High);
            }
        }

        int length = _ctx.Finish(ref w, payload, RemoteAddress);
        if (length < 0)
        {
            return; // cannot happen: MaxPayload leaves HeaderReserve bytes for header and options
        }

        if (isData && _unansweredSince == long.MaxValue)
        {
            _unansweredSince = now; // the dead-peer clock runs from the first data the peer has not answered
        }

        _ctx.Output.Send(_ctx.Scratch.AsSpan(0, length), RemoteAddress);
        _packetsSent++;
        _lastSentAt = now;
        Sender.NoteGss(seq);
        Sender.OnPacketSent(seq, isData, now);
        if (isData)
        {
            _dataPacketsSent++;
            _dataBytesSent += payload.Length;
        }

        if (hasAck && ackOverride is null)
        {
            _lastAckSent = _gsr;
            _ackedSinceReceive = true;
            _dataSinceAck = 0;
            _ackNow = false;
            _ackAt = long.MaxValue;
        }
    }

    // -------------------------------------------------------------- plumbing --

    private void Drop(DccpDropReason reason)
    {
        Drops.Increment(reason);
        _ctx.Drops.Increment(reason);
    }

    private void SetState(DccpState state)
    {
        if (State == state)
        {
            return;
        }

        State = state;
        Observer?.OnStateChanged(state);
    }

    private void Terminate(DccpState state, string reason, long now)
    {
        CloseReason ??= reason;
        _retransmitAt = long.MaxValue;
        _ackAt = long.MaxValue;
        _closeRequested = false;
        _sendQueue.Clear();
        _stateDeadline = state == DccpState.TimeWait ? now + (long)_options.TimeWait.TotalMicroseconds : long.MaxValue;

        SetState(state);
        Observer?.OnWritable();
        Observer?.OnReadable();
    }
}
