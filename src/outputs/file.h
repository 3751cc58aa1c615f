#ifndef AS_FILE_H
#define AS_FILE_H
#endif
