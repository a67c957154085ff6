using System.Text;

namespace Nnl.BuildTools.Surface;

/// <summary>
/// Reads a module manifest (.psd1): a PowerShell hashtable literal of strings, arrays and nested
/// hashtables, with comments. Enough of the language for manifests, nothing more (no expressions,
/// no variables); anything else is an error naming the line.
/// </summary>
public sealed class ManifestReader
{
    private readonly string _text;
    private readonly string _file;
    private int _pos;

    private ManifestReader(string text, string file)
    {
        _text = text;
        _file = file;
    }

    public static IReadOnlyDictionary<string, object> Load(string path) => Parse(File.ReadAllText(path), path);

    /// <summary>Returns the top-level hashtable: values are string, List&lt;object&gt; or nested dictionaries.</summary>
    public static IReadOnlyDictionary<string, object> Parse(string text, string file)
    {
        var reader = new ManifestReader(text, file);
        reader.SkipTrivia(newlines: true);
        var table = reader.ReadHashtable();
        reader.SkipTrivia(newlines: true);
        if (reader._pos < text.Length) throw reader.Error("text after the manifest's closing '}'");
        return table;
    }

    /// <summary>
    /// The value of <paramref name="key"/> as a list of strings: @() is empty, a single string is a
    /// list of one; null when the key is absent.
    /// </summary>
    public static IReadOnlyList<string>? StringList(IReadOnlyDictionary<string, object> manifest, string key) =>
        manifest.TryGetValue(key, out var value) ? value switch
        {
            string s => [s],
            List<object> list => list.Select(v => v as string ?? throw new FormatException($"{key} holds a non-string item")).ToList(),
            _ => throw new FormatException($"{key} is a hashtable, expected strings"),
        } : null;

    private Dictionary<string, object> ReadHashtable()
    {
        Expect("@{");
        var table = new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase);
        while (true)
        {
            SkipTrivia(newlines: true, separators: true);
            if (Peek("}")) { _pos++; return table; }
            if (_pos >= _text.Length) throw Error("hashtable is never closed with '}'");
            int keyAt = _pos;
            string key = Peek("'") || Peek("\"") ? ReadString() : ReadBareword();
            SkipTrivia();
            Expect("=");
            SkipTrivia();
            if (!table.TryAdd(key, ReadValue())) throw Error($"key '{key}' appears twice", keyAt);
        }
    }

    private object ReadValue()
    {
        object first = ReadSingle();
        SkipTrivia();
        if (!Peek(",")) return first;
        // 'a', 'b' without @() is an array too.
        var list = new List<object> { first };
        while (Peek(","))
        {
            _pos++;
            SkipTrivia(newlines: true);
            list.Add(ReadSingle());
            SkipTrivia();
        }
        return list;
    }

    private object ReadSingle()
    {
        if (Peek("@{")) return ReadHashtable();
        if (Peek("@(")) return ReadArray();
        if (Peek("'") || Peek("\"")) return ReadString();
        if (Peek("$true") || Peek("$false")) return ReadBareword("$");
        if (_pos < _text.Length && (char.IsAsciiDigit(_text[_pos]) || _text[_pos] == '.')) return ReadBareword();
        throw Error($"expected a string, @(...) or @{{...}}, found '{Snippet()}'");
    }

    private List<object> ReadArray()
    {
        Expect("@(");
        var list = new List<object>();
        while (true)
        {
            SkipTrivia(newlines: true, separators: false);
            if (Peek(")")) { _pos++; return list; }
            if (_pos >= _text.Length) throw Error("array is never closed with ')'");
            list.Add(ReadSingle());
            SkipTrivia();
            if (Peek(",")) _pos++;
        }
    }

    private string ReadString()
    {
        char quote = _text[_pos];
        int start = _pos++;
        var value = new StringBuilder();
        while (_pos < _text.Length)
        {
            char c = _text[_pos++];
            if (c == quote)
            {
                // '' inside '...' (and "" inside "...") is an escaped quote.
                if (_pos < _text.Length && _text[_pos] == quote) { value.Append(quote); _pos++; continue; }
                return value.ToString();
            }
            if (quote == '"' && (c == '$' || c == '`'))
                throw Error("expandable strings (\"...\" with $ or `) are not allowed in a manifest; use '...'", _pos - 1);
            value.Append(c);
        }
        throw Error("string is never closed", start);
    }

    private string ReadBareword(string prefix = "")
    {
        int start = _pos;
        _pos += prefix.Length;
        while (_pos < _text.Length && (char.IsLetterOrDigit(_text[_pos]) || _text[_pos] is '_' or '.' or '-')) _pos++;
        if (_pos == start) throw Error($"expected a key, found '{Snippet()}'");
        return _text[start.._pos];
    }

    private void SkipTrivia(bool newlines = false, bool separators = false)
    {
        while (_pos < _text.Length)
        {
            char c = _text[_pos];
            if (c is ' ' or '\t' or '\r') _pos++;
            else if (c == '\n' && newlines) _pos++;
            else if (c == ';' && separators) _pos++;
            else if (Peek("<#"))
            {
                int end = _text.IndexOf("#>", _pos + 2, StringComparison.Ordinal);
                if (end < 0) throw Error("block comment '<#' is never closed");
                _pos = end + 2;
            }
            else if (c == '#')
            {
                while (_pos < _text.Length && _text[_pos] != '\n') _pos++;
            }
            else return;
        }
    }

    private bool Peek(string s) => string.CompareOrdinal(_text, _pos, s, 0, s.Length) == 0;

    private void Expect(string s)
    {
        if (!Peek(s)) throw Error($"expected '{s}', found '{Snippet()}'");
        _pos += s.Length;
    }

    private string Snippet() => _pos >= _text.Length ? "end of file" : _text.Substring(_pos, Math.Min(20, _text.Length - _pos)).Split('\n')[0];

    private FormatException Error(string problem, int? at = null)
    {
        int pos = Math.Min(at ?? _pos, _text.Length);
        int line = 1 + _text.AsSpan(0, pos).Count('\n');
        return new FormatException($"{_file}:{line}: {problem}");
    }
}
