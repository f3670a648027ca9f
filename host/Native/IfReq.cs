using System.Runtime.InteropServices;

namespace VirtualStack.Host.Native;

/// <summary>
/// <c>struct ifreq</c> from linux/if.h (40 bytes on LP64): a 16-byte name and a union of which TUNSETIFF uses
/// only the flags. Tmds.LibC has no definition of it.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
internal unsafe struct IfReq
{
    public const int NameSize = 16;

    [FieldOffset(0)]
    public fixed byte Name[NameSize];

    [FieldOffset(16)]
    public short Flags;

    public static IfReq ForName(string name)
    {
        IfReq request = default;
        for (int i = 0; i < name.Length && i < NameSize - 1; i++)
        {
            request.Name[i] = (byte)name[i];
        }

        return request;
    }

    public readonly string GetName()
    {
        fixed (byte* name = Name)
        {
            return Marshal.PtrToStringAnsi((nint)name) ?? string.Empty;
        }
    }
}
