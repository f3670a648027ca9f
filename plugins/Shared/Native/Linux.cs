namespace VirtualStack.Plugins.Shared.Native;

/// <summary>Constants from the Linux headers (x86-64 and arm64 share these values).</summary>
internal static class Linux
{
    public const int AfInet = 2;
    public const int AfInet6 = 10;

    public const int SockDgram = 2;
    public const int SockRaw = 3;
    public const int SockCloexec = 0x80000;

    public const int IpProtoUdp = 17;
    public const int IpProtoIpv6 = 41;
    public const int IpProtoRaw = 255;

    public const int SolSocket = 1;
    public const int SoSndBuf = 7;
    public const int SoRcvBuf = 8;
    public const int SoSndBufForce = 32;
    public const int SoRcvBufForce = 33;
    public const int SoMark = 36;
    public const int SoSndTimeo = 21;
    public const int Ipv6V6Only = 26;

    /// <summary>SOL_UDP, the control-message level of <see cref="UdpSegment"/>.</summary>
    public const int SolUdp = 17;

    /// <summary>UDP_SEGMENT (linux/udp.h): the segment size of a UDP GSO send, a u16 control message.</summary>
    public const int UdpSegment = 103;

    public const int MsgTrunc = 0x20;
    public const int MsgDontWait = 0x40;

    public const int EpollCloexec = 0x80000;
    public const int EpollCtlAdd = 1;
    public const int EpollCtlDel = 2;
    public const uint EpollIn = 0x1;

    public const int EfdCloexec = 0x80000;
    public const int EfdNonBlock = 0x800;
}
