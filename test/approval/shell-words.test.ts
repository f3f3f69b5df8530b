import { describe, expect, it } from 'vitest';
import { EXPANSION as X, splitShell } from '../../src/approval/shell-words.js';

describe('splitShell', () => {
  it.each([
    ['plain words', 'curl -s https://a.example.com', [['curl', '-s', 'https://a.example.com']]],
    ['extra blanks', '  ls \t -la  ', [['ls', '-la']]],
    ['single quotes keep everything', `echo 'a "b" $c \\d'`, [['echo', 'a "b" $c \\d']]],
    ['double quotes join and escape', `echo "a b" "\\"q\\"" "x\\y"`, [['echo', 'a b', '"q"', 'x\\y']]],
    ['quotes glue into one word', `a'b'"c"d`, [['abcd']]],
    ['backslash escapes a blank', 'touch my\\ file', [['touch', 'my file']]],
    ['line continuation', 'curl \\\n  https://a.example.com', [['curl', 'https://a.example.com']]],
    ['ANSI-C quoting', "echo $'a\\'b'", [['echo', "a'b"]]],
  ])('%s', (_, src, expected) => {
    expect(splitShell(src)).toEqual(expected);
  });

  it.each([
    ['; && || | & and newlines', 'a 1; b 2 && c || d | e & f\ng', [['a', '1'], ['b', '2'], ['c'], ['d'], ['e'], ['f'], ['g']]],
    ['|& and ;;', 'a |& b ;; c', [['a'], ['b'], ['c']]],
    ['( and ), keeping group braces as words', '(cd x && make) || { echo no; }', [['cd', 'x'], ['make'], ['{', 'echo', 'no'], ['}']]],
  ])('ends commands at %s', (_, src, expected) => {
    expect(splitShell(src)).toEqual(expected);
  });

  it.each([
    ['> file', 'curl https://a.example.com > out.json', [['curl', 'https://a.example.com']]],
    ['2>&1 and >>', 'make 2>&1 >>log.txt', [['make']]],
    ['<file and &>', 'sort <in.txt &>/dev/null', [['sort']]],
    ['a quoted digit is a word', "echo '2'>x", [['echo', '2']]],
    ['here-string', 'cat <<< "https://a.example.com" x', [['cat', 'x']]],
  ])('drops the redirection %s', (_, src, expected) => {
    expect(splitShell(src)).toEqual(expected);
  });

  it('skips here-document bodies, also with <<- and quoted delimiters', () => {
    const src = "cat <<EOF >a\ncurl https://x.example.com\nEOF\ncat <<-'END'\n\tssh h.example.com\n\tEND\necho done";
    expect(splitShell(src)).toEqual([['cat'], ['cat'], ['echo', 'done']]);
  });

  it('treats # at a word start as a comment, not inside a word', () => {
    expect(splitShell('echo a#b # c d\necho e')).toEqual([['echo', 'a#b'], ['echo', 'e']]);
  });

  it('replaces expansions with EXPANSION', () => {
    expect(splitShell('echo $HOME ${X:-y} "$1" $((1+2)) a$B')).toEqual([['echo', X, X, X, X, `a${X}`]]);
  });

  it('keeps a lone $ literal', () => {
    expect(splitShell('echo $ "$"')).toEqual([['echo', '$', '$']]);
  });

  it('returns commands inside $(...), backticks and <(...) as commands of their own', () => {
    expect(splitShell('export T=$(curl -s https://a.example.com/t) && echo `date +%s` && diff <(ls a) <(ls b)')).toEqual([
      ['curl', '-s', 'https://a.example.com/t'],
      ['export', `T=${X}`],
      ['date', '+%s'],
      ['echo', X],
      ['ls', 'a'],
      ['ls', 'b'],
      ['diff', X, X],
    ]);
  });

  it('reads $(...) inside double quotes, nested, with quotes and parens inside', () => {
    expect(splitShell('echo "v=$(cat "$(ls x)" | (grep ")" ))"')).toEqual([
      ['ls', 'x'],
      ['cat', X],
      ['grep', ')'],
      ['echo', `v=${X}`],
    ]);
  });

  it.each([
    ['an unterminated single quote', "curl 'https://a.example.com"],
    ['an unterminated double quote', 'curl "https://a.example.com'],
    ['an unterminated $(', 'echo $(curl https://a.example.com'],
    ['an unterminated backtick', 'echo `curl https://a.example.com'],
    ['an unterminated ${', 'echo ${HOME'],
    ['nesting deeper than the limit', `${'$('.repeat(40)}x${')'.repeat(40)}`],
  ])('gives undefined for %s', (_, src) => {
    expect(splitShell(src)).toBeUndefined();
  });

  it('tolerates a stray ) and trailing operators', () => {
    expect(splitShell('a ) b &&')).toEqual([['a'], ['b']]);
  });

  it('gives no commands for empty input', () => {
    expect(splitShell('')).toEqual([]);
    expect(splitShell(' ;\n& ')).toEqual([]);
  });
});
