using System.Net.Sockets;

namespace VirtualStack.Integration.Tests.Infrastructure;

/// <summary>
/// Runs code of the test process inside a network namespace, without a helper process.
/// </summary>
/// <remarks>
/// setns(2) with CLONE_NEWNET moves only the calling OS thread into the namespace, and .NET runs a managed
/// <see cref="Thread"/> on an OS thread of its own, one to one. So the code runs on a fresh dedicated thread that
/// joins the namespace through /run/netns/NAME and then ends: no thread-pool thread is ever moved. A socket keeps
/// the namespace it was created in for its whole life, so sockets made here may be used from any thread (async
/// I/O included) once this returns; the same holds for the AF_PACKET socket of <see cref="PacketInjector"/>.
/// </remarks>
internal static class Netns
{
    public static T Run<T>(string ns, Func<T> body)
    {
        T? result = default;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var handle = File.OpenHandle(Path.Combine("/run/netns", ns));
                if (LibC.setns((int)handle.DangerousGetHandle(), LibC.CloneNewNet) != 0)
                {
                    throw new InvalidOperationException($"setns({ns}) failed: {LibC.LastError()}");
                }

                result = body();
            }
            catch (Exception e)
            {
                error = e;
            }
        })
        {
            IsBackground = true,
            Name = $"netns {ns}",
        };
        thread.Start();
        thread.Join();
        return error is null ? result! : throw new InvalidOperationException($"in namespace {ns}: {error.Message}", error);
    }

    /// <summary>An ordinary socket that lives in namespace <paramref name="ns"/>.</summary>
    public static Socket Socket(string ns, AddressFamily family, SocketType type, ProtocolType protocol) =>
        Run(ns, () => new Socket(family, type, protocol));

    /// <summary>An ordinary UDP socket in <paramref name="ns"/>, bound to <paramref name="local"/>.</summary>
    public static Socket UdpSocket(string ns, System.Net.IPEndPoint local)
    {
        var socket = Socket(ns, local.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            // Past net.core.rmem_max (208 KiB here, ~270 datagrams) when root: the test's own socket must never be
            // where a datagram is lost while the test process waits for the CPU on a busy machine.
            VirtualStack.Host.Tools.SocketBuffers.Enlarge(socket, receive: true);
            VirtualStack.Host.Tools.SocketBuffers.Enlarge(socket, receive: false);
            socket.Bind(local);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
