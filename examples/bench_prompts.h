/* The built-in prompt sets of tinfer-bench: short, medium and long, in English and Korean. Each
 * is one user turn (the model's chat template is applied around it). The long prompts repeat a
 * passage so they reach several hundred tokens without a data file. */
#ifndef TINFER_EXAMPLES_BENCH_PROMPTS_H
#define TINFER_EXAMPLES_BENCH_PROMPTS_H

#define BENCH_PASSAGE_EN                                                                          \
    "The history of computing is a story of ever smaller machines doing ever larger jobs. The "   \
    "first electronic computers filled rooms, drew as much power as a small town and were "       \
    "programmed by rewiring panels of plugs. Transistors replaced vacuum tubes, integrated "      \
    "circuits replaced hand-soldered boards, and by the end of the century a device that fit in " \
    "a pocket held more memory than every machine of the nineteen fifties together. Software "    \
    "followed the same path: from hand-written machine code to compilers, operating systems, "    \
    "networks and finally programs that learn their behaviour from data instead of being told. "

#define BENCH_PASSAGE_KO                                                                                                               \
    "컴퓨터의 역사는 점점 더 작은 기계가 점점 더 큰 일을 해 온 이야기이다. 최초의 전자식 "           \
    "컴퓨터는 방 하나를 가득 채웠고 작은 마을만큼 전기를 썼으며, 배선판의 플러그를 다시 꽂아서 " \
    "프로그램을 바꾸었다. 트랜지스터가 진공관을 대신하고 집적 회로가 손으로 납땜한 기판을 "       \
    "대신하면서, 세기말에는 주머니에 들어가는 기기 하나가 1950년대의 모든 기계를 합친 것보다 "     \
    "더 많은 메모리를 갖게 되었다. 소프트웨어도 같은 길을 걸었다. 손으로 쓴 기계어에서 "             \
    "컴파일러와 운영 체제, 네트워크를 거쳐, 마침내 명령을 받는 대신 데이터에서 행동을 배우는 "    \
    "프로그램에 이르렀다. "

typedef struct bench_prompt {
    const char *name; /* "short_en", … */
    const char *size; /* "short", "medium", "long" */
    const char *lang; /* "en", "ko" */
    const char *text;
} bench_prompt;

static const bench_prompt BENCH_PROMPTS[] = {
    {"short_en", "short", "en", "What is the capital of France? Answer in one sentence."},
    {"medium_en", "medium", "en",
     BENCH_PASSAGE_EN "\n\nIn a short paragraph, explain what changed most between the first "
                      "computers and today's devices."},
    {"long_en", "long", "en",
     BENCH_PASSAGE_EN BENCH_PASSAGE_EN BENCH_PASSAGE_EN BENCH_PASSAGE_EN BENCH_PASSAGE_EN
         BENCH_PASSAGE_EN "\n\nThe passage above was repeated six times. Summarize it in three "
                          "bullet points and say which idea it stresses most."},
    {"short_ko", "short", "ko", "프랑스의 수도는 어디인가요? 한 문장으로 답해 주세요."},
    {"medium_ko", "medium", "ko",
     BENCH_PASSAGE_KO "\n\n처음의 컴퓨터와 오늘날의 기기 사이에서 가장 크게 달라진 점을 짧은 "
                      "문단으로 설명해 주세요."},
    {"long_ko", "long", "ko",
     BENCH_PASSAGE_KO BENCH_PASSAGE_KO BENCH_PASSAGE_KO BENCH_PASSAGE_KO BENCH_PASSAGE_KO
         BENCH_PASSAGE_KO "\n\n위 글은 여섯 번 반복되었습니다. 세 개의 요점으로 요약하고, 글이 "
                          "가장 강조하는 생각이 무엇인지 말해 주세요."},
};

enum { BENCH_N_PROMPTS = sizeof BENCH_PROMPTS / sizeof BENCH_PROMPTS[0] };

#endif
