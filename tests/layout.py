#!/usr/bin/env python3
"""The shape of src/, checked from the sources (tests/shell/test_layout.sh).

  layout.py includes   no cycle among the quoted #includes of src/
  layout.py modules    no cycle among modules: a module is x.c with x.h
                       (store.c, tree.c, notify.c, value.c with
                       store.h, store-internal.h, value.h are one: the
                       store); x uses y if x's files include y's header
  layout.py fuse       which files include libfuse's headers
  layout.py graph      the module graph, one "x -> y" per line

Prints what it finds; exits 1 on a cycle.
"""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src')
GROUP = {
    'store.c': 'store', 'tree.c': 'store', 'notify.c': 'store',
    'value.c': 'store', 'store.h': 'store', 'store-internal.h': 'store', 'value.h': 'store',
    'format_double.h': 'format', 'format_double.cc': 'format',
}


def files():
    return sorted(f for f in os.listdir(SRC)
                  if f.endswith(('.c', '.h', '.cc')) and os.path.isfile(os.path.join(SRC, f)))


def includes(name):
    text = open(os.path.join(SRC, name), encoding='utf-8').read()
    return re.findall(r'^#include\s+([<"])([^>"]+)[>"]', text, re.M)


def module(name):
    return GROUP.get(name, os.path.splitext(name)[0])


def find_cycle(graph):
    state = {}
    stack = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else 'includes'
    names = files()
    if what == 'includes':
        graph = {f: {i for kind, i in includes(f) if kind == '"' and i in names} for f in names}
        cycle = find_cycle(graph)
    elif what in ('modules', 'graph'):
        graph = {}
        for f in names:
            for kind, i in includes(f):
                if kind == '"' and i in names and module(i) != module(f):
                    graph.setdefault(module(f), set()).add(module(i))
        if what == 'graph':
            for m in sorted(graph):
                print('%s -> %s' % (m, ' '.join(sorted(graph[m]))))
            return 0
        cycle = find_cycle(graph)
    elif what == 'fuse':
        for f in names:
            if any(kind == '<' and i.startswith(('fuse', 'linux/fuse')) for kind, i in includes(f)):
                print(f)
        return 0
    else:
        print(__doc__)
        return 2
    if cycle:
        print('cycle: ' + ' -> '.join(cycle))
        return 1
    print('no cycle among %d %s' % (len(graph), 'files' if what == 'includes' else 'modules'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
