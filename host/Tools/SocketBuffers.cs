using System.Net.Sockets;

namespace VirtualStack.Host.Tools;

/// <summary>
/// Large socket buffers without touching the machine's net.core.rmem_max/wmem_max: as root, SO_RCVBUFFORCE and
/// SO_SNDBUFFORCE go past those limits (shared/perf raises the sysctls instead; the effect on the socket is the same).
/// </summary>
internal static class SocketBuffers
{
    private const int SolSocket = 1;
    private const int SoSndBufForce = 32;
    private const int SoRcvBufForce = 33;
    private const int Size = 32 << 20;

    public static void Enlarge(Socket socket, bool receive)
    {
        try
        {
            socket.SetRawSocketOption(SolSocket, receive ? SoRcvBufForce : SoSndBufForce, BitConverter.GetBytes(Size));
        }
        catch (SocketException)
        {
            // Not root: take what the system allows.
            if (receive)
            {
                socket.ReceiveBufferSize = Size;
            }
            else
            {
                socket.SendBufferSize = Size;
            }
        }
    }
}
