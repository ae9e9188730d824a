# gdb script: the mean number of instructions one call of a function executes,
# entry to return (callees included), stepping every instruction with `stepi`.
# Used by check-specialisation.sh --count and checks/run.sh:
#
#   COUNT_CALLS='SYMBOL:SKIP:CALLS ...' gdb -q -batch -ex "file BINARY" \
#       -ex "set args ..." -ex "break main" -ex "run" -ex "source count-instructions.py"
#
# For each SYMBOL (a mangled name), skips SKIP calls (warm-up), then steps
# CALLS calls, and prints "COUNT SYMBOL MEAN".
import os
import gdb


def mean(symbol, skip, calls):
    gdb.execute("delete")
    breakpoint = gdb.Breakpoint("*&'" + symbol + "'")
    breakpoint.ignore_count = skip
    total = 0
    for _ in range(calls):
        gdb.execute("continue", to_string=True)
        ret = int(gdb.parse_and_eval("*(unsigned long*)$sp"))
        n = 0
        while int(gdb.parse_and_eval("$pc")) != ret and n < 1000000:
            gdb.execute("stepi", to_string=True)
            n += 1
        total += n
    return total / calls


gdb.execute("set pagination off")
for spec in os.environ["COUNT_CALLS"].split():
    symbol, skip, calls = spec.rsplit(":", 2)
    print("COUNT %s %.1f" % (symbol, mean(symbol, int(skip), int(calls))))
gdb.execute("kill")
