using System.Net;
using System.Net.Sockets;

namespace VirtualStack.Integration.Tests.Infrastructure;

/// <summary>
/// Both ends of an echo stream of <see cref="NumberedDatagram"/>s: the server socket echoes every datagram and counts
/// it by number, the application socket counts each echo by number and checks it came from the address the
/// application sent to. Datagrams that are not exactly what was sent count as corrupt.
/// </summary>
internal sealed class EchoTally : IAsyncDisposable
{
    private readonly CancellationTokenSource _cts = new();
    private readonly Task _serverLoop;
    private readonly Task _appLoop;
    private readonly int _size;
    private int _corrupt;
    private int _wrongSource;

    public EchoTally(Socket server, Socket app, IPEndPoint appTarget, int size, int count)
    {
        _size = size;
        AtServer = new int[count];
        AtApp = new int[count];
        _serverLoop = Task.Run(async () =>
        {
            var buffer = new byte[2048];
            while (!_cts.IsCancellationRequested)
            {
                var r = await server.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), _cts.Token);
                Count(buffer.AsSpan(0, r.ReceivedBytes), AtServer);
                await server.SendToAsync(buffer.AsMemory(0, r.ReceivedBytes), r.RemoteEndPoint, _cts.Token);
            }
        });
        _appLoop = Task.Run(async () =>
        {
            var buffer = new byte[2048];
            while (!_cts.IsCancellationRequested)
            {
                var r = await app.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), _cts.Token);
                if (!appTarget.Equals(r.RemoteEndPoint))
                {
                    Interlocked.Increment(ref _wrongSource);
                }

                Count(buffer.AsSpan(0, r.ReceivedBytes), AtApp);
            }
        });
    }

    /// <summary>How often the server got each datagram.</summary>
    public int[] AtServer { get; }

    /// <summary>How often the application got each echo.</summary>
    public int[] AtApp { get; }

    public int Corrupt => Volatile.Read(ref _corrupt);

    public int WrongSource => Volatile.Read(ref _wrongSource);

    /// <summary>Numbers that arrived more than once, at the server or back at the application.</summary>
    public int Duplicates => AtServer.Count(c => c > 1) + AtApp.Count(c => c > 1);

    /// <summary>Numbers that never reached the server (or, with <paramref name="back"/>, never came back).</summary>
    public List<int> Missing(bool back = false)
    {
        int[] counts = back ? AtApp : AtServer;
        var missing = new List<int>();
        for (int i = 0; i < counts.Length; i++)
        {
            if (counts[i] == 0)
            {
                missing.Add(i);
            }
        }

        return missing;
    }

    /// <summary>
    /// Waits for the last echoes: until every datagram came back, or nothing more arrived for a second, at most
    /// <paramref name="timeout"/>; then stops both ends. Whatever is missing then is lost.
    /// </summary>
    public async Task FinishAsync(TimeSpan timeout)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long seen = -1;
        var lastChange = clock.Elapsed;
        while (clock.Elapsed < timeout)
        {
            long now = AtServer.Sum() + (long)AtApp.Sum();
            if (now >= 2L * AtServer.Length || clock.Elapsed - lastChange > TimeSpan.FromSeconds(1))
            {
                break;
            }

            if (now != seen)
            {
                seen = now;
                lastChange = clock.Elapsed;
            }

            await Task.Delay(50);
        }

        await DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_cts.IsCancellationRequested)
        {
            await _cts.CancelAsync();
        }

        await Task.WhenAll(_serverLoop, _appLoop).ContinueWith(_ => { }, TaskScheduler.Default);
        _cts.Dispose();
    }

    private void Count(ReadOnlySpan<byte> datagram, int[] counts)
    {
        int seq = NumberedDatagram.Read(datagram, _size, counts.Length);
        if (seq >= 0)
        {
            Interlocked.Increment(ref counts[seq]);
        }
        else
        {
            Interlocked.Increment(ref _corrupt);
        }
    }
}
