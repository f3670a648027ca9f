using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace VirtualStack.Host.Remote;

/// <summary>
/// The remote management wire format (docs/management-protocol.md): one JSON object per line,
/// <c>{"v":1,"ts":MS,"nonce":"HEX","body":"JSON TEXT","mac":"HEX"}</c>, where <c>mac</c> is HMAC-SHA256 under the
/// shared key of <c>KIND \n ts \n nonce \n body</c> (KIND <c>vs1-request</c> or <c>vs1-reply</c>). The body travels as
/// a string so that both ends MAC exactly the same bytes without agreeing on a JSON canonical form.
/// </summary>
internal static class RemoteMessage
{
    public const int Version = 1;
    public const string RequestKind = "vs1-request";
    public const string ReplyKind = "vs1-reply";
    public const int MaxLineBytes = 64 * 1024;
    public const int MinNonceChars = 16;
    public const int MaxNonceChars = 64;

    /// <summary>The bytes the MAC covers.</summary>
    public static byte[] Signed(string kind, long timestamp, string nonce, string body) =>
        Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{kind}\n{timestamp}\n{nonce}\n{body}"));

    /// <summary>The MAC as 64 lowercase hex digits.</summary>
    public static string Mac(byte[] key, string kind, long timestamp, string nonce, string body) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(key, Signed(kind, timestamp, nonce, body)));

    /// <summary>True when <paramref name="mac"/> is the MAC of the rest; compares in constant time.</summary>
    public static bool Verify(byte[] key, string kind, long timestamp, string nonce, string body, string mac)
    {
        if (mac.Length != 64 || !mac.All(char.IsAsciiHexDigit))
        {
            return false;
        }

        byte[] expected = HMACSHA256.HashData(key, Signed(kind, timestamp, nonce, body));
        return CryptographicOperations.FixedTimeEquals(expected, Convert.FromHexString(mac));
    }

    /// <summary>
    /// Quotes inside the body are written <c>\"</c> rather than <c>\u0022</c>: the line stays readable, and is byte for byte
    /// what other languages' JSON encoders write (the document's example). Nothing here ends up inside HTML.
    /// </summary>
    private static readonly JsonSerializerOptions Readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>A signed envelope around <paramref name="body"/>, as one line of JSON (no newline).</summary>
    public static string Envelope(byte[] key, string kind, long timestamp, string nonce, string body) =>
        new JsonObject
        {
            ["v"] = Version,
            ["ts"] = timestamp,
            ["nonce"] = nonce,
            ["body"] = body,
            ["mac"] = Mac(key, kind, timestamp, nonce, body),
        }.ToJsonString(Readable);

    /// <summary>A fresh random nonce: 16 bytes as 32 hex digits.</summary>
    public static string NewNonce() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    public static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
}
