using System.Text.Json.Nodes;
using VirtualStack.Host.Lab;
using VirtualStack.Host.Management;

namespace VirtualStack.Host.Bench;

/// <summary>A <c>vs run</c> a benchmark started: its management socket, CPU time and memory.</summary>
internal sealed class BenchDaemon(LabProcess process, string socket)
{
    public LabProcess Process { get; } = process;

    public TimeSpan CpuTime() => Process.CpuTime();

    public ProcessMemory Memory() => ProcessMemory.Read(Process.Pid);

    /// <summary>
    /// <c>vs status</c>. With <paramref name="collect"/> the request asks for a full garbage collection before the
    /// managed heap is measured (<c>"collect": true</c>; a daemon that does not know the field ignores it).
    /// </summary>
    public async Task<JsonObject> StatusAsync(bool collect = false)
    {
        var request = new JsonObject { ["command"] = "status" };
        if (collect)
        {
            request["collect"] = true;
        }

        JsonObject answer = await ManagementClient.SendAsync(socket, request, TimeSpan.FromSeconds(10));
        return answer["result"]?.AsObject() ?? throw new InvalidOperationException($"status failed: {answer["error"]}");
    }

    /// <summary>Stops VS (SIGTERM) and fails if it did not exit cleanly.</summary>
    public async Task StopAsync()
    {
        int exit = await Process.StopAsync(TimeSpan.FromSeconds(10));
        if (exit != 0)
        {
            throw new InvalidOperationException($"vs run exited with {exit}: {Process.Errors}");
        }
    }
}
