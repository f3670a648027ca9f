using System.Runtime.InteropServices;

namespace VirtualStack.Plugins.Shared.Native;

/// <summary><c>struct iovec</c> (16 bytes on LP64).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IoVec
{
    public void* Base;
    public nuint Length;
}

/// <summary><c>struct msghdr</c> (56 bytes on LP64; the padding after <see cref="NameLength"/> is implicit).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct MsgHdr
{
    public void* Name;
    public uint NameLength;
    public IoVec* Iov;
    public nuint IovLength;
    public void* Control;
    public nuint ControlLength;
    public int Flags;
}

/// <summary><c>struct mmsghdr</c> (64 bytes on LP64): one message of a sendmmsg/recvmmsg vector.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct MMsgHdr
{
    public MsgHdr Header;

    /// <summary>Bytes sent or received for this message, written by the kernel.</summary>
    public uint Length;
}

/// <summary><c>struct pollfd</c> (8 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PollFd
{
    public const short PollOut = 0x004;

    public int Fd;
    public short Events;
    public short Revents;
}
