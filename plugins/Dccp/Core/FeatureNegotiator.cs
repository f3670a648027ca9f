using VirtualStack.Plugins.Dccp.Protocol;

namespace VirtualStack.Plugins.Dccp.Core;

/// <summary>
/// Feature negotiation of one connection (RFC 4340 §6). Each feature exists twice: located at this endpoint
/// ("local", the peer's Change R and our Change L name it) and at the peer ("remote"). Server-priority features
/// take the first entry of the server's preference list that the client's list also holds (§6.3.1); non-negotiable
/// features take the value the feature location sends (§6.3.2). Changes are repeated on every non-Data packet until
/// Confirmed (§6.6.1); every received Change is answered by a Confirm on the next packet (§6.6.2).
/// </summary>
internal sealed class FeatureNegotiator
{
    private const int MaxUnknown = 8;

    // Our preference lists for server-priority features (§6.3.1), the same for both locations.
    private static readonly byte[][] Preferences =
    [
        [],
        [2], // CCID: only CCID 2 (RFC 4341) is implemented
        [0], // Allow Short Seqnos: we always send 48-bit sequence numbers
        [], // Sequence Window is NN
        [1, 0], // ECN Incapable: we neither set nor read ECN, either value is fine
        [], // Ack Ratio is NN
        [1, 0], // Send Ack Vector: wanted (CCID 2 needs them), 0 accepted
        [0, 1], // Send NDP Count
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], // Minimum Checksum Coverage: we always send full coverage
        [0, 1], // Check Data Checksum: we can send and check Data Checksum options
    ];

    private readonly bool _isServer;
    private readonly Slot[] _local = new Slot[DccpFeatures.Count];
    private readonly Slot[] _remote = new Slot[DccpFeatures.Count];
    private readonly byte[] _unknownConfirm = new byte[MaxUnknown * 2]; // (option type, feature) pairs for empty Confirms
    private int _unknownCount;

    public FeatureNegotiator(bool isServer)
    {
        _isServer = isServer;
        for (byte f = 1; f < DccpFeatures.Count; f++)
        {
            _local[f].Value = DccpFeatures.InitialValue(f);
            _remote[f].Value = DccpFeatures.InitialValue(f);
        }
    }

    /// <summary>Options are waiting to be sent: a Confirm owed or a Change not yet Confirmed.</summary>
    public bool HasPendingOptions
    {
        get
        {
            if (_unknownCount > 0)
            {
                return true;
            }

            for (int f = 1; f < DccpFeatures.Count; f++)
            {
                if (_local[f].Changing || _local[f].ConfirmPending || _remote[f].Changing || _remote[f].ConfirmPending)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>A Confirm is owed to the peer.</summary>
    public bool HasPendingConfirms
    {
        get
        {
            if (_unknownCount > 0)
            {
                return true;
            }

            for (int f = 1; f < DccpFeatures.Count; f++)
            {
                if (_local[f].ConfirmPending || _remote[f].ConfirmPending)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>A Change of ours still waits for its Confirm.</summary>
    public bool HasUnconfirmedChanges
    {
        get
        {
            for (int f = 1; f < DccpFeatures.Count; f++)
            {
                if (_local[f].Changing || _remote[f].Changing)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Current value of the feature located here (e.g. Ack Ratio/local: how often the peer acks our data).</summary>
    public ulong Local(DccpFeature feature) => _local[(int)feature].Value;

    /// <summary>The larger of the current value and a value we proposed but the peer has not yet confirmed (NN features).</summary>
    public ulong LocalOrProposed(DccpFeature feature)
    {
        ref Slot slot = ref _local[(int)feature];
        return slot.Changing ? Math.Max(slot.Value, slot.Proposed) : slot.Value;
    }

    /// <summary>Current value of the feature located at the peer.</summary>
    public ulong Remote(DccpFeature feature) => _remote[(int)feature].Value;

    /// <summary>Starts changing a feature located here: Change L with our preference list (SP) or <paramref name="value"/> (NN).</summary>
    public void ChangeLocal(DccpFeature feature, ulong value = 0)
    {
        ref Slot slot = ref _local[(int)feature];
        if (DccpFeatures.Reconciliation((byte)feature) == DccpReconciliation.NonNegotiable)
        {
            if (slot.Changing ? slot.Proposed == value : slot.Value == value)
            {
                return;
            }

            slot.Proposed = value;
        }

        slot.Changing = true;
    }

    /// <summary>Asks the peer to change a server-priority feature located there (Change R with our preference list).</summary>
    public void ChangeRemote(DccpFeature feature)
    {
        // Change R is not allowed for non-negotiable features (§6.3.2).
        if (DccpFeatures.Reconciliation((byte)feature) == DccpReconciliation.ServerPriority)
        {
            _remote[(int)feature].Changing = true;
        }
    }

    /// <summary>
    /// Processes a Change L or Change R from the peer. Returns a Reset code when the connection must be reset
    /// (§6.6.7 Mandatory on an unknown feature or value, §6.6.8 invalid values), else null.
    /// </summary>
    public DccpResetCode? OnChange(DccpOptionType type, byte feature, ReadOnlySpan<byte> values, bool mandatory)
    {
        // The peer's Change L is about a feature located at the peer; its Change R about one located here.
        bool aboutRemote = type == DccpOptionType.ChangeL;
        DccpReconciliation rule = DccpFeatures.Reconciliation(feature);
        if (rule == DccpReconciliation.Unknown)
        {
            if (mandatory)
            {
                return DccpResetCode.MandatoryError;
            }

            QueueEmptyConfirm(aboutRemote ? DccpOptionType.ConfirmR : DccpOptionType.ConfirmL, feature);
            return null;
        }

        ref Slot slot = ref aboutRemote ? ref _remote[feature] : ref _local[feature];
        if (rule == DccpReconciliation.NonNegotiable)
        {
            if (!aboutRemote)
            {
                return null; // Change R of an NN feature is invalid (§6.3.2): ignore it.
            }

            if (!DccpOptionValues.TryReadFeatureValue(values, out ulong nn) || values.Length != DccpFeatures.ValueLength(feature)
                || !DccpFeatures.IsValidValue(feature, nn))
            {
                return mandatory ? DccpResetCode.OptionError : null;
            }

            slot.Value = nn;
            slot.ConfirmPending = true;
            return null;
        }

        if (values.IsEmpty)
        {
            return DccpResetCode.OptionError;
        }

        // Server-priority reconciliation (§6.3.1): the first server preference the client also lists.
        ReadOnlySpan<byte> ours = Preferences[feature];
        ReadOnlySpan<byte> server = _isServer ? ours : values;
        ReadOnlySpan<byte> client = _isServer ? values : ours;
        int chosen = -1;
        foreach (byte candidate in server)
        {
            if (client.Contains(candidate))
            {
                chosen = candidate;
                break;
            }
        }

        if (chosen < 0)
        {
            if (mandatory)
            {
                return DccpResetCode.MandatoryError;
            }
        }
        else
        {
            slot.Value = (ulong)chosen;
            slot.Changing = false; // agreement reached; a Change of ours for it is now moot
        }

        slot.ConfirmPending = true;
        return null;
    }

    /// <summary>Processes a Confirm L or Confirm R from the peer: the answer to one of our Changes (§6.2).</summary>
    public DccpResetCode? OnConfirm(DccpOptionType type, byte feature, ReadOnlySpan<byte> values)
    {
        // The peer's Confirm L answers our Change R (a feature at the peer); its Confirm R answers our Change L.
        bool aboutRemote = type == DccpOptionType.ConfirmL;
        DccpReconciliation rule = DccpFeatures.Reconciliation(feature);
        if (rule == DccpReconciliation.Unknown)
        {
            return null;
        }

        ref Slot slot = ref aboutRemote ? ref _remote[feature] : ref _local[feature];
        if (!slot.Changing)
        {
            return null; // a Confirm for a feature not being changed is ignored (§6.6.4)
        }

        if (values.IsEmpty)
        {
            slot.Changing = false; // the peer does not know the feature: keep the value we have (§6.6.7)
            return null;
        }

        if (rule == DccpReconciliation.NonNegotiable)
        {
            if (DccpOptionValues.TryReadFeatureValue(values, out ulong nn) && nn == slot.Proposed)
            {
                slot.Value = nn;
                slot.Changing = false;
            }

            return null;
        }

        byte chosen = values[0];
        if (!Preferences[feature].AsSpan().Contains(chosen))
        {
            return DccpResetCode.OptionError; // the peer picked something we never offered (§6.6.8)
        }

        slot.Value = chosen;
        slot.Changing = false;
        return null;
    }

    /// <summary>Writes the Confirms owed and the Changes not yet confirmed. Those that do not fit stay pending.</summary>
    public void WriteOptions(ref DccpPacketWriter writer)
    {
        Span<byte> value = stackalloc byte[32];
        for (int i = 0; i < _unknownCount; i++)
        {
            if (!writer.TryAddFeature((DccpOptionType)_unknownConfirm[i * 2], _unknownConfirm[(i * 2) + 1], []))
            {
                return;
            }
        }

        _unknownCount = 0;
        for (byte f = 1; f < DccpFeatures.Count; f++)
        {
            bool nn = DccpFeatures.Reconciliation(f) == DccpReconciliation.NonNegotiable;
            if (_remote[f].ConfirmPending && writer.TryAddFeature(DccpOptionType.ConfirmR, f, Confirmation(f, _remote[f].Value, nn, value)))
            {
                _remote[f].ConfirmPending = false;
            }

            if (_local[f].ConfirmPending && writer.TryAddFeature(DccpOptionType.ConfirmL, f, Confirmation(f, _local[f].Value, nn, value)))
            {
                _local[f].ConfirmPending = false;
            }

            if (_local[f].Changing)
            {
                writer.TryAddFeature(DccpOptionType.ChangeL, f, nn ? Encode(f, _local[f].Proposed, value) : Preferences[f]);
            }

            if (_remote[f].Changing && !nn)
            {
                writer.TryAddFeature(DccpOptionType.ChangeR, f, Preferences[f]);
            }
        }
    }

    private static ReadOnlySpan<byte> Confirmation(byte feature, ulong current, bool nn, Span<byte> scratch)
    {
        if (nn)
        {
            return Encode(feature, current, scratch);
        }

        // SP Confirm: the chosen value, then our preference list (§6.2).
        byte[] prefs = Preferences[feature];
        scratch[0] = (byte)current;
        prefs.CopyTo(scratch[1..]);
        return scratch[..(prefs.Length + 1)];
    }

    private static ReadOnlySpan<byte> Encode(byte feature, ulong value, Span<byte> scratch)
    {
        int length = DccpFeatures.ValueLength(feature);
        for (int i = 0; i < length; i++)
        {
            scratch[length - 1 - i] = (byte)(value >> (8 * i));
        }

        return scratch[..length];
    }

    private void QueueEmptyConfirm(DccpOptionType type, byte feature)
    {
        for (int i = 0; i < _unknownCount; i++)
        {
            if (_unknownConfirm[i * 2] == (byte)type && _unknownConfirm[(i * 2) + 1] == feature)
            {
                return;
            }
        }

        if (_unknownCount < MaxUnknown)
        {
            _unknownConfirm[_unknownCount * 2] = (byte)type;
            _unknownConfirm[(_unknownCount * 2) + 1] = feature;
            _unknownCount++;
        }
    }

    private struct Slot
    {
        public ulong Value;
        public ulong Proposed;
        public bool Changing;
        public bool ConfirmPending;
    }
}
