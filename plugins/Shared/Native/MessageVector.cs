using System.Runtime.InteropServices;

namespace VirtualStack.Plugins.Shared.Native;

/// <summary>
/// The arrays one sendmmsg or recvmmsg call works on, in native memory allocated once and wired once: message
/// <c>i</c> has one iovec, <see cref="Iov"/>[i], and its address in slot <c>i</c> of <see cref="Names"/>. Per
/// packet, only an iovec's base and length and an address change.
/// </summary>
internal sealed unsafe class MessageVector : IDisposable
{
    private bool _disposed;

    public MessageVector(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        Count = count;
        Messages = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)count, (nuint)sizeof(MMsgHdr));
        Iov = (IoVec*)NativeMemory.AllocZeroed((nuint)count, (nuint)sizeof(IoVec));
        Names = (byte*)NativeMemory.AllocZeroed((nuint)count, SockAddr.SlotSize);
        for (int i = 0; i < count; i++)
        {
            Messages[i].Header.Name = Names + (i * SockAddr.SlotSize);
            Messages[i].Header.Iov = Iov + i;
            Messages[i].Header.IovLength = 1;
        }
    }

    public int Count { get; }

    public MMsgHdr* Messages { get; }

    public IoVec* Iov { get; }

    public byte* Names { get; }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        NativeMemory.Free(Messages);
        NativeMemory.Free(Iov);
        NativeMemory.Free(Names);
    }
}
