using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using VirtualStack.Host.Remote;

namespace VirtualStack.Host.Tests.Remote;

/// <summary>
/// docs/management-protocol.md is what controllers in other languages are written from: its worked example must be
/// what VS computes (and what OpenSSL computes), and its Python controller must work against a live server.
/// </summary>
public sealed partial class ProtocolDocumentTests
{
    private const long Timestamp = 1767225600000;
    private const string Nonce = "00112233445566778899aabbccddeeff";
    private const string Body = "{\"command\":\"switch\",\"target\":\"telemetry\",\"stack\":\"dccp\"}";
    private const string ReplyBody = "{\"ok\":true,\"result\":{\"rule\":\"telemetry\",\"stack\":\"dccp\",\"flows\":1}}";

    private static string Document => File.ReadAllText(Repository.File("docs", "management-protocol.md"));

    [Fact]
    public void The_worked_example_is_what_vs_computes()
    {
        string document = Document;
        string mac = RemoteMessage.Mac(RemoteHarness.Key, RemoteMessage.RequestKind, Timestamp, Nonce, Body);
        Assert.Contains($"MAC: `{mac}`", document, StringComparison.Ordinal);
        Assert.Contains(RemoteMessage.Envelope(RemoteHarness.Key, RemoteMessage.RequestKind, Timestamp, Nonce, Body), document, StringComparison.Ordinal);
        Assert.Contains(RemoteMessage.Envelope(RemoteHarness.Key, RemoteMessage.ReplyKind, Timestamp + 4, Nonce, ReplyBody), document, StringComparison.Ordinal);
        Assert.Contains(Convert.ToBase64String(RemoteHarness.Key), document, StringComparison.Ordinal);
        Assert.Equal(RemoteHarness.Key, RemoteSettings.ParseKey("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="));
        Assert.Equal(RemoteHarness.Key, RemoteSettings.ParseKey("hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"));
    }

    [SkippableFact]
    public async Task OpenSSL_agrees_with_the_worked_example()
    {
        Skip.IfNot(OnPath("openssl"), "needs openssl on PATH (the outside oracle for HMAC-SHA256)");
        var info = new ProcessStartInfo("openssl", ["dgst", "-sha256", "-mac", "HMAC", "-macopt", $"hexkey:{Convert.ToHexStringLower(RemoteHarness.Key)}"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
        };
        using Process openssl = Process.Start(info)!;
        await openssl.StandardInput.WriteAsync($"{RemoteMessage.RequestKind}\n{Timestamp}\n{Nonce}\n{Body}");
        openssl.StandardInput.Close();
        string output = await openssl.StandardOutput.ReadToEndAsync();
        await openssl.WaitForExitAsync();
        Assert.EndsWith("= " + RemoteMessage.Mac(RemoteHarness.Key, RemoteMessage.RequestKind, Timestamp, Nonce, Body), output.Trim(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task The_python_controller_of_the_document_works_against_a_live_server()
    {
        Skip.IfNot(OnPath("python3"), "needs python3 on PATH to run the document's example controller");
        Match code = PythonBlock().Match(Document);
        Assert.True(code.Success, "the document has a ```python block");
        string script = Path.Combine(Path.GetTempPath(), $"vs_controller_{Guid.NewGuid():N}.py");
        await File.WriteAllTextAsync(script, code.Groups[1].Value);
        try
        {
            await using var harness = RemoteHarness.Start();
            var info = new ProcessStartInfo("python3", [script, "127.0.0.1", harness.EndPoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "{\"command\":\"status\"}"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            info.Environment["VS_MANAGEMENT_KEY"] = Convert.ToHexStringLower(RemoteHarness.Key);
            using Process python = Process.Start(info)!;
            string output = await python.StandardOutput.ReadToEndAsync();
            string errors = await python.StandardError.ReadToEndAsync();
            await python.WaitForExitAsync();
            Assert.True(python.ExitCode == 0, $"python3 exited {python.ExitCode}: {errors}");
            JsonObject answer = JsonNode.Parse(output)!.AsObject();
            Assert.Equal("status", answer["result"]!["echo"]!["command"]!.GetValue<string>());
            Assert.Equal(1, harness.Server.Accepted);

            info.Environment["VS_MANAGEMENT_KEY"] = "ff" + Convert.ToHexStringLower(RemoteHarness.Key)[2..];
            using Process wrongKey = Process.Start(info)!;
            string refused = await wrongKey.StandardError.ReadToEndAsync();
            await wrongKey.WaitForExitAsync();
            Assert.NotEqual(0, wrongKey.ExitCode);
            Assert.Contains("refused: the MAC does not verify", refused, StringComparison.Ordinal);
            Assert.Single(harness.Commands);
        }
        finally
        {
            File.Delete(script);
        }
    }

    [SkippableFact]
    public async Task The_shell_controller_of_the_document_works_against_a_live_server()
    {
        Skip.IfNot(OnPath("openssl") && OnPath("socat"), "needs openssl and socat on PATH to run the document's shell controller");
        Match code = ShellBlock().Match(Document);
        Assert.True(code.Success, "the document has a ```sh block");
        string script = Path.Combine(Path.GetTempPath(), $"vs_controller_{Guid.NewGuid():N}.sh");
        await File.WriteAllTextAsync(script, code.Groups[1].Value);
        try
        {
            await using var harness = RemoteHarness.Start();
            string port = harness.EndPoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

            async Task<(int Exit, string Out, string Err)> Run(string key, string body)
            {
                var info = new ProcessStartInfo("sh", [script, "127.0.0.1", port, body]) { RedirectStandardOutput = true, RedirectStandardError = true };
                info.Environment["VS_MANAGEMENT_KEY"] = key;
                using Process shell = Process.Start(info)!;
                Task<string> output = shell.StandardOutput.ReadToEndAsync();
                Task<string> errors = shell.StandardError.ReadToEndAsync();
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await shell.WaitForExitAsync(timeout.Token);
                return (shell.ExitCode, await output, await errors);
            }

            // A body with quotes inside strings and a backslash: the escaping must keep the MAC'd bytes intact.
            string body = "{\"command\":\"policy\",\"rule\":\"a \\\"b\\\" c\\\\\",\"policy\":\"Static\"}";
            var stopwatch = Stopwatch.StartNew();
            (int exit, string output, string errors) = await Run(Convert.ToHexStringLower(RemoteHarness.Key), body);
            Assert.True(exit == 0, $"sh exited {exit}: {errors}");
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(8), $"the controller took {stopwatch.Elapsed}: it should end when the daemon has answered");
            JsonObject reply = JsonNode.Parse(output)!.AsObject();
            string replyBody = reply["body"]!.GetValue<string>();
            Assert.Equal(RemoteMessage.Mac(RemoteHarness.Key, RemoteMessage.ReplyKind, reply["ts"]!.GetValue<long>(), reply["nonce"]!.GetValue<string>(), replyBody), reply["mac"]!.GetValue<string>());
            JsonObject echo = JsonNode.Parse(replyBody)!["result"]!["echo"]!.AsObject();
            Assert.Equal("a \"b\" c\\", echo["rule"]!.GetValue<string>());
            Assert.Equal(1, harness.Server.Accepted);

            (int wrongExit, string refused, _) = await Run("ff" + Convert.ToHexStringLower(RemoteHarness.Key)[2..], "{\"command\":\"status\"}");
            Assert.Contains("\"refused\":\"bad_mac\"", refused, StringComparison.Ordinal);
            Assert.Single(harness.Commands);
            _ = wrongExit;
        }
        finally
        {
            File.Delete(script);
        }
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, program)));

    [GeneratedRegex("```python\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex PythonBlock();

    [GeneratedRegex("```sh\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex ShellBlock();
}
