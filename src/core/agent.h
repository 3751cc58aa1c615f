#ifndef AS_AGENT_H
#define AS_AGENT_H
#endif
