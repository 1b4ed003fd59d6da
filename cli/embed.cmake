# Turns a file into a C string constant (NUL-terminated) at build time:
#   cmake -DIN=file -DOUT=file.c -DNAME=symbol -P embed.cmake
# Used for the demo's world fixture, so `octofleet demo` needs no files at run time.
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n"
       bytes "${bytes}")
file(WRITE "${OUT}" "/* generated from ${IN} by cli/embed.cmake; do not edit */\n"
     "extern const char ${NAME}[];\nconst char ${NAME}[] = {\n${bytes}0x00};\n")
