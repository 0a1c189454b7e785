# Turns CUDA kernel launches into emu::launch calls so g++ can compile the .cu sources.
import re, sys
def transform(src):
    out = []; i = 0
    while True:
        j = src.find('<<<', i)
        if j < 0: out.append(src[i:]); break
        # kernel name (identifier with optional <...>) just before <<<
        k = j
        if src[k-1] == '>':
            depth = 0
            while True:
                k -= 1
                if src[k] == '>': depth += 1
                elif src[k] == '<':
                    depth -= 1
                    if depth == 0: break
        while k > 0 and (src[k-1].isalnum() or src[k-1] == '_'): k -= 1
        name = src[k:j]
        e = src.find('>>>', j)
        cfg = src[j+3:e]
        # split config on top-level commas
        parts = []; depth = 0; cur = ''
        for ch in cfg:
            if ch in '([': depth += 1
            if ch in ')]': depth -= 1
            if ch == ',' and depth == 0: parts.append(cur); cur = ''
            else: cur += ch
        parts.append(cur)
        assert src[e+3] == '(', src[e:e+20]
        p = e + 3; depth = 0
        while True:
            if src[p] == '(': depth += 1
            elif src[p] == ')':
                depth -= 1
                if depth == 0: break
            p += 1
        args = src[e+4:p]
        grid, block, smem, stream = [x.strip() for x in parts]
        out.append(src[i:k])
        out.append(f'emu::launch(dim3({grid}), dim3({block}), {smem}, {stream}, [=]() {{ {name}({args}); }})')
        i = p + 1
    s = ''.join(out)
    s = re.sub(r'extern __shared__ __align__\(16\) unsigned char (\w+)\[\];', r'unsigned char* \1 = emu::dynamicSmem();', s)
    return s
for f in sys.argv[1:]:
    s = open(f).read()
    open(f + '.cpp', 'w').write(transform(s))
